"""scripts/eth_tester_bytecodes.py: the Python bytecodes of one eth-tester request."""

from __future__ import annotations

import pytest
from script_modules import load_script

pytest.importorskip("eth_tester", reason="eth-tester is not installed")


@pytest.mark.parametrize("kind", ["send", "call", "estimate"])
def test_requests_are_counted_on_both_backends(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    script = load_script("eth_tester_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_REQUESTS", 2)
    total, inclusive = script.count_bytecodes(script.request("ir", kind))
    stock_total, stock_inclusive = script.count_bytecodes(script.request("pyevm", kind))
    assert any(where.startswith("evmkiln/") for where in inclusive)
    assert not any(where.startswith("evmkiln/") for where in stock_inclusive)
    assert max(inclusive.values()) <= total  # no function runs more than the request
    assert 0 < total < stock_total


def test_timing_gives_a_positive_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script("eth_tester_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_REQUESTS", 1)
    assert 0 < script.time_requests(script.request("pyevm", "call"), 2) < 60
