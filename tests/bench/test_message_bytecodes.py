"""scripts/message_bytecodes.py: the Python bytecodes of one message, by function."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from script_modules import SCRIPTS, load_script


def test_more_calls_run_more_bytecodes_in_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = load_script("message_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_RUNS", 3)
    totals = {}
    for calls in (1, 4):
        fixture = tmp_path / f"guarded_{calls}.json"
        make = [sys.executable, str(SCRIPTS / "guarded_calls_fixture.py"), str(fixture)]
        subprocess.run([*make, "--calls", str(calls)], check=True)
        counts = script.count_bytecodes("llvm", fixture)
        assert any(where.startswith("evmkiln/context/") for where in counts)
        assert all(count > 0 for count in counts.values())
        totals[calls] = sum(counts.values())
    # Each call is a nested message through the host: three more of them cost more.
    assert totals[4] > totals[1] + 3 * 500


def test_a_transaction_counts_its_message_and_the_envelope_around_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = load_script("message_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_RUNS", 3)
    fixture = tmp_path / "guarded_1.json"
    subprocess.run(
        [sys.executable, str(SCRIPTS / "guarded_calls_fixture.py"), str(fixture), "--calls", "1"],
        check=True,
    )
    message = script.count_bytecodes("llvm", fixture)
    transaction = script.count_bytecodes("llvm", fixture, transaction=True)
    # The envelope (validation, the fee, the receipt) runs around the message.
    assert sum(transaction.values()) > sum(message.values()) + 1_000
    assert any(where.startswith("eth/vm/") for where in transaction)
    assert "evmkiln/context/message_path.py:run_frame" in message
    assert transaction["evmkiln/context/message_path.py:run_frame"] > 0
