"""web3.py's EthereumTesterProvider on KilnBackend: a deploy/transact/call round trip."""

from __future__ import annotations

from typing import Any

import pytest
from contracts import COUNTER, LOGGER, REASON, REVERTER, initcode

pytest.importorskip("web3", reason="web3.py is not installed")
pytest.importorskip("eth_tester", reason="eth-tester is not installed")
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from evmkiln.integrations.eth_tester import KilnBackend


def round_trip(w3: Any) -> dict[str, Any]:
    sender = w3.eth.accounts[0]

    def deploy(runtime: bytes) -> Any:
        tx = w3.eth.send_transaction({"from": sender, "data": initcode(runtime)})
        return w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]

    counter = deploy(COUNTER)
    receipts = []
    for _ in range(2):
        tx = w3.eth.send_transaction({"from": sender, "to": counter, "gas": 100_000})
        receipts.append(w3.eth.wait_for_transaction_receipt(tx))
    logger = deploy(LOGGER)
    tx = w3.eth.send_transaction({"from": sender, "to": logger, "data": b"web3", "gas": 100_000})
    logged = w3.eth.wait_for_transaction_receipt(tx)
    reverter = deploy(REVERTER)
    with pytest.raises(TransactionFailed) as failure:
        w3.eth.call({"from": sender, "to": reverter})
    return {
        "call": w3.eth.call({"from": sender, "to": counter}),
        "storage": w3.eth.get_storage_at(counter, 0),
        "gas_used": [r["gasUsed"] for r in receipts],
        "logs": [(log["topics"], log["data"]) for log in logged["logs"]],
        "revert": str(failure.value),
        "estimate": w3.eth.estimate_gas({"from": sender, "to": counter}),
    }


def test_round_trip_matches_stock_pyevm() -> None:
    stock = round_trip(Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend()))))
    kiln = KilnBackend("llvm")
    observed = round_trip(Web3(EthereumTesterProvider(EthereumTester(kiln))))
    assert observed == stock
    assert int.from_bytes(observed["call"], "big") == 3
    assert REASON in observed["revert"]
    assert kiln.stats.frames_run_compiled > 0


def test_default_provider_picks_the_backend_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EthereumTesterProvider() builds eth-tester's default backend: the env var decides."""
    monkeypatch.setenv(
        "ETHEREUM_TESTER_CHAIN_BACKEND", "evmkiln.integrations.eth_tester.KilnBackend"
    )
    monkeypatch.setenv("EVMKILN_BACKEND", "ir")
    provider = EthereumTesterProvider()
    assert isinstance(provider.ethereum_tester.backend, KilnBackend)
    w3 = Web3(provider)
    sender = w3.eth.accounts[0]
    tx = w3.eth.send_transaction({"from": sender, "data": initcode(COUNTER)})
    counter = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    assert int.from_bytes(w3.eth.call({"from": sender, "to": counter}), "big") == 1


def test_the_example_runs_and_agrees() -> None:
    """examples/web3_and_titanoboa.py, small: both halves check their answers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "web3_and_titanoboa.py"
    env = {**os.environ, "EXAMPLE_N": "50", "EXAMPLE_CALLS": "2", "EVMKILN_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["web3.py", "titanoboa"]
    assert all(line.rstrip().endswith("x") for line in lines)
