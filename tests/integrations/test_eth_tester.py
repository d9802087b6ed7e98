"""eth-tester with KilnBackend: the same results as its stock PyEVMBackend."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from contracts import COUNTER, INVALID, LOGGER, REASON, REVERTER, TOPIC0, TOPIC1, initcode

eth_tester = pytest.importorskip("eth_tester", reason="eth-tester is not installed")
from eth_tester import EthereumTester, PyEVMBackend  # noqa: E402
from eth_tester.exceptions import TransactionFailed  # noqa: E402

from evmkiln.context.vm import REPLAY_REASON  # noqa: E402
from evmkiln.integrations.eth_tester import ETH_TESTER_DEFAULT_FORK, KilnBackend  # noqa: E402


def deploy(tester: Any, runtime: bytes) -> str:
    sender = tester.get_accounts()[0]
    tx = tester.send_transaction(
        {"from": sender, "gas": 500_000, "data": "0x" + initcode(runtime).hex()}
    )
    receipt = tester.get_transaction_receipt(tx)
    assert receipt["status"] == 1
    address: str = receipt["contract_address"]
    return address


def transact(tester: Any, to: str, data: bytes = b"") -> dict[str, Any]:
    sender = tester.get_accounts()[0]
    tx = tester.send_transaction(
        {"from": sender, "to": to, "gas": 200_000, "data": "0x" + data.hex()}
    )
    receipt: dict[str, Any] = tester.get_transaction_receipt(tx)
    return receipt


def call(tester: Any, to: str, data: bytes = b"") -> str:
    sender = tester.get_accounts()[0]
    result: str = tester.call({"from": sender, "to": to, "data": "0x" + data.hex()})
    return result


def scenario(tester: Any) -> dict[str, Any]:
    """Everything a user of eth-tester observes in a short session."""
    counter = deploy(tester, COUNTER)
    receipts = [transact(tester, counter) for _ in range(3)]
    logger = deploy(tester, LOGGER)
    logged = transact(tester, logger, b"hello")
    reverter = deploy(tester, REVERTER)
    reverted = transact(tester, reverter)
    invalid = deploy(tester, INVALID)
    errors = []
    for target in (reverter, invalid):
        with pytest.raises(TransactionFailed) as failure:
            call(tester, target)
        errors.append(str(failure.value))
    return {
        "counter_call": call(tester, counter),
        "gas_used": [r["gas_used"] for r in receipts],
        "storage": tester.get_storage_at(counter, "0x0"),
        "logs": [(log["topics"], log["data"]) for log in logged["logs"]],
        "reverted_status": reverted["status"],
        "errors": errors,
        "estimate": tester.estimate_gas(
            {"from": tester.get_accounts()[0], "to": counter, "data": "0x"}
        ),
        "block": tester.get_block_by_number("latest")["state_root"],
    }


@pytest.fixture(scope="module")
def stock() -> dict[str, Any]:
    return scenario(EthereumTester(PyEVMBackend()))


def test_default_fork_is_eth_testers() -> None:
    vm = PyEVMBackend().chain.get_vm()
    assert type(vm).__name__.lower().startswith(ETH_TESTER_DEFAULT_FORK)


@pytest.mark.parametrize("backend", ["llvm", "ir"])
def test_same_results_as_stock_pyevm(backend: str, stock: dict[str, Any]) -> None:
    kiln = KilnBackend(backend)
    observed = scenario(EthereumTester(kiln))
    assert observed == stock
    assert observed["counter_call"] == "0x" + (4).to_bytes(32, "big").hex()
    assert observed["logs"][0][0] == [
        "0x" + TOPIC0.to_bytes(32, "big").hex(),
        "0x" + TOPIC1.to_bytes(32, "big").hex(),
    ]
    assert observed["errors"] == [REASON, "Invalid opcode 0xfe @ 0"]
    assert kiln.stats.frames_run_compiled > 0
    # Gas estimation probes the call with too little gas: a probe that runs out is
    # replayed on the interpreter for py-evm's amounts, nothing else is interpreted.
    assert set(kiln.stats.interpreted_for) <= {REPLAY_REASON}


def test_reset_to_genesis_keeps_the_vm_class() -> None:
    kiln = KilnBackend("ir")
    tester = EthereumTester(kiln)
    deploy(tester, COUNTER)
    tester.reset_to_genesis()
    assert isinstance(kiln.chain.get_vm(), kiln.vm_class)
    before = kiln.stats.frames_run_compiled
    counter = deploy(tester, COUNTER)
    transact(tester, counter)
    assert kiln.stats.frames_run_compiled > before


def test_snapshot_and_revert_keep_the_vm_class() -> None:
    kiln = KilnBackend("ir")
    tester = EthereumTester(kiln)
    snapshot = tester.take_snapshot()
    deploy(tester, COUNTER)
    tester.revert_to_snapshot(snapshot)
    assert isinstance(kiln.chain.get_vm(), kiln.vm_class)


def test_selected_by_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """eth-tester imports the class named by ETHEREUM_TESTER_CHAIN_BACKEND, with no arguments."""
    monkeypatch.setenv(
        "ETHEREUM_TESTER_CHAIN_BACKEND", "evmkiln.integrations.eth_tester.KilnBackend"
    )
    monkeypatch.setenv("EVMKILN_BACKEND", "ir")
    monkeypatch.setenv("EVMKILN_FORK", "cancun")
    tester = EthereumTester()
    backend = tester.backend
    assert isinstance(backend, KilnBackend)
    assert backend.vm_class.backend.name == "ir"
    assert type(backend.chain.get_vm()).__name__.startswith("KilnIrCancun")
    counter = deploy(tester, COUNTER)
    assert call(tester, counter) == "0x" + (1).to_bytes(32, "big").hex()
    assert backend.stats.frames_run_compiled > 0


def test_the_default_runtime_is_tiered_and_the_environment_can_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evmkiln.context.code_cache import CodeCache
    from evmkiln.context.runtime import TEST_SUITE, TieredCodeCache

    monkeypatch.delenv("EVMKILN_RUNTIME")
    tiered = KilnBackend("ir")
    assert isinstance(tiered.vm_class.code_cache, TieredCodeCache)
    # The gas rule alone: a contract called often but cheaply is not compiled.
    assert tiered.vm_class.runtime == TEST_SUITE
    assert all(t.calls is None and t.gas is not None for t in TEST_SUITE.thresholds)
    # The suite's workers fill the cores: compiles run only when one waits.
    assert TEST_SUITE.compiler_nice == 19
    assert scenario(EthereumTester(tiered)) == scenario(EthereumTester(PyEVMBackend()))
    monkeypatch.setenv("EVMKILN_RUNTIME", "blocking")
    assert isinstance(KilnBackend("ir").vm_class.code_cache, CodeCache)
    monkeypatch.setenv("EVMKILN_RUNTIME", "eager")
    with pytest.raises(ValueError, match="EVMKILN_RUNTIME"):
        KilnBackend("ir")


_BACKEND_CHOSEN = """
import os
import evmkiln.integrations.eth_tester
from eth_hash.auto import keccak
keccak(b"")
print(os.environ.get("ETH_HASH_BACKEND"), type(keccak.hasher.__self__).__name__)
"""


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [(None, "PySha3Backend"), ("pycryptodome", "CryptodomeBackend")],
)
def test_eth_hash_uses_pysha3_unless_the_user_chose(chosen: str | None, expected: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    if chosen is not None:
        environment["ETH_HASH_BACKEND"] = chosen
    done = subprocess.run(
        [sys.executable, "-c", _BACKEND_CHOSEN],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # The environment (which the program's own child processes inherit) is left as it was.
    assert done.stdout.split() == [str(chosen), expected]


def test_the_key_lookup_is_eth_testers_and_follows_new_accounts() -> None:
    backend = KilnBackend()

    def stock() -> dict[bytes, Any]:
        lookup: dict[bytes, Any] = PyEVMBackend._key_lookup.fget(backend)
        return lookup

    assert backend._key_lookup == stock() and len(stock()) == len(backend.account_keys)
    backend._key_lookup.clear()  # a caller's copy
    assert backend._key_lookup == stock()
    backend.add_account(b"\x42" * 32)
    assert backend._key_lookup == stock() and len(stock()) == len(backend.account_keys)
