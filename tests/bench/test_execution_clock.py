"""Execution timing: the message alone, a strict part of the transaction, same result."""

from __future__ import annotations

import dataclasses

from fakes import case

from evmkiln.bench.case import BenchCase
from evmkiln.bench.engines import KilnEngine, PyEvmEngine, PyEvmRunner
from evmkiln.bench.execution_clock import EXECUTION, TRANSACTION
from evmkiln.bench.observation import SUCCESS
from evmkiln.fixtures.world import Account
from evmkiln.statetest.execution import apply_transaction

# Count down from 2000 (so execution takes measurable time), then return a zero word.
CODE = bytes.fromhex(
    "6107d0"  # PUSH2 2000
    "5b6001900380600357"  # JUMPDEST; PUSH1 1; SWAP1; SUB; DUP1; PUSH1 3; JUMPI
    "60005260206000f3"  # MSTORE(0, 0); RETURN(0, 32)
)


def _loop_case() -> BenchCase:
    contract = Account.model_validate({"balance": "0x0", "nonce": "0x1", "code": "0x" + CODE.hex()})
    sender = Account.model_validate({"balance": "0xde0b6b3a7640000", "nonce": "0x0", "code": "0x"})
    base = case()
    spec = dataclasses.replace(base.spec, gas_price=10)  # the block's base fee
    return dataclasses.replace(base, spec=spec, pre={b"\xcc" * 20: contract, b"\x11" * 20: sender})


def test_execution_is_timed_inside_the_transaction() -> None:
    bench_case = _loop_case()
    execution = PyEvmEngine(EXECUTION).prepare(bench_case)
    transaction = PyEvmEngine(TRANSACTION).prepare(bench_case)
    assert isinstance(execution, PyEvmRunner) and execution.clock is not None
    assert isinstance(transaction, PyEvmRunner) and transaction.clock is None
    seen_exec, exec_seconds = execution.run()
    seen_tx, _ = transaction.run()
    assert seen_exec == seen_tx
    assert seen_exec.outcome == SUCCESS
    assert exec_seconds == execution.clock.last > 0
    # In one run, the message's execution is a strict part of the transaction's time.
    outcome = apply_transaction(execution.vm_class, bench_case.env, bench_case.pre, bench_case.spec)
    assert 0 < execution.clock.last < outcome.seconds


def test_a_backend_keeps_its_code_cache_under_the_clock() -> None:
    runner = KilnEngine("ir", EXECUTION).prepare(_loop_case())
    assert isinstance(runner, PyEvmRunner)
    first, _ = runner.run()
    second, _ = runner.run()
    assert first == second and first.outcome == SUCCESS
    stats = runner.vm_class.stats
    assert stats.frames_compiled == 1 and stats.frames_run_compiled == 2
