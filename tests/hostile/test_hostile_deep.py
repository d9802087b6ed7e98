"""Recursion to the EVM's call depth limit through compiled code, against py-evm.

A contract calls (or creates) itself until the 1025th nested frame is refused:
that CALL/CREATE fails softly and pushes 0, and every level's result travels
back up the chain.  Each level also writes storage and logs, so the state root
and the logs check that every level's effects are kept.  1024 nested frames
need a raised recursion limit and a large thread stack (``on_deep_stack``).
"""

from __future__ import annotations

import pytest
from hostile_asm import BACKENDS, Label, Ref, asm, vm_class

from evmkiln.deep_stack import on_deep_stack
from evmkiln.fuzz.execute import CONTRACT_A, Outcome, execute

DEEP_GAS = 10**14
"""With 63/64 forwarded per level, the frame at depth 1024 still has enough for its SSTORE."""
BLOCK_GAS = 10**15

RECURSE = asm(
    32, 0, 0, 0, 0, "ADDRESS", "GAS", "CALL", Ref("ok"), "JUMPI",
    # the call was refused (depth 1025) or failed: return 0
    0, 0, "MSTORE", 32, 0, "RETURN",
    Label("ok"),  # return the callee's result + 1, store it, log it
    0, "MLOAD", 1, "ADD", "DUP1", 0, "MSTORE", 1, "SWAP1", "SSTORE",
    32, 0, "LOG0", 32, 0, "RETURN",
)  # fmt: skip
"""CALL(gas, self, 0, 0, 0, 0, 32); returns how many levels below it succeeded."""


def _initcode_creating_itself(opcode: str) -> bytes:
    """Initcode that creates a copy of itself, stores the new address, deploys 1 byte."""
    salt = [] if opcode == "CREATE" else ["CODESIZE"]  # a fixed salt is fine: new deployer
    return asm(
        "CODESIZE", 0, 0, "CODECOPY",
        *salt, "CODESIZE", 0, 0, opcode,  # value 0, memory 0..codesize
        "DUP1", 0, "SSTORE",  # the child's address (0 if refused) in the new contract's slot 0
        "DUP1", "EXTCODESIZE", 1, "SSTORE",
        0x60, 0, "MSTORE8", 1, 0, "RETURN",
    )  # fmt: skip


def _creator(opcode: str) -> bytes:
    """Runtime code: copy the self-creating initcode out of its own code and run it."""
    initcode = _initcode_creating_itself(opcode)
    prefix_len = 64  # generous: the prefix below is shorter, padded with STOPs
    salt = [] if opcode == "CREATE" else [7]
    prefix = asm(
        len(initcode), prefix_len, 0, "CODECOPY",
        *salt, len(initcode), 0, 0, opcode, 0, "SSTORE", "STOP",
    )  # fmt: skip
    assert len(prefix) <= prefix_len
    return prefix.ljust(prefix_len, b"\x00") + initcode


def _deep(backend: str, code: bytes, gas: int) -> Outcome:
    return on_deep_stack(
        lambda: execute(vm_class(backend), {CONTRACT_A: code}, gas=gas, block_gas_limit=BLOCK_GAS)
    )


_EXPECTED: dict[tuple[bytes, int], Outcome] = {}


def _compare_deep(backend: str, code: bytes, gas: int) -> Outcome:
    key = (code, gas)
    if key not in _EXPECTED:
        _EXPECTED[key] = _deep("pyevm", code, gas)
    want = _EXPECTED[key]
    got = _deep(backend, code, gas)
    assert got == want, f"{backend}: {got.detail or 'ok'} vs py-evm {want.detail or 'ok'}"
    return want


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_recursion_to_depth_1024(backend: str) -> None:
    want = _compare_deep(backend, RECURSE, DEEP_GAS)
    assert want.success
    assert int.from_bytes(want.output, "big") == 1024  # frames at depth 1..1024 each added 1
    assert len(want.logs) == 1024


@pytest.mark.parametrize("gas", [2_000_000, 5_000_000])
@pytest.mark.parametrize("backend", BACKENDS)
def test_call_recursion_until_gas_runs_out(backend: str, gas: int) -> None:
    """Gas, not depth, ends the chain: the deepest levels run out and unwind."""
    want = _compare_deep(backend, RECURSE, gas)
    assert want.success and 0 < int.from_bytes(want.output, "big") < 1024


@pytest.mark.parametrize("opcode", ["CREATE", "CREATE2"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_create_recursion_until_gas_runs_out(backend: str, opcode: str) -> None:
    want = _compare_deep(backend, _creator(opcode), 5_000_000)
    assert want.success


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_create_recursion_to_depth_1024(backend: str) -> None:
    # (CREATE2 to full depth takes py-evm minutes; the gas-limited test above covers it.)
    want = _compare_deep(backend, _creator("CREATE"), DEEP_GAS)
    assert want.success
    assert want.gas_used > 1024 * (32_000 + 2 * 22_100)  # every level created and stored
