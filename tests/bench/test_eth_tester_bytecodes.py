"""scripts/eth_tester_bytecodes.py: the Python bytecodes of one eth-tester request."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("eth_tester", reason="eth-tester is not installed")

SCRIPTS = Path(__file__).parents[2] / "scripts"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eth_tester_bytecodes", SCRIPTS / "eth_tester_bytecodes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["send", "call", "estimate"])
def test_requests_are_counted_on_both_backends(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    script = _script()
    monkeypatch.setattr(script, "WARM_UP_REQUESTS", 2)
    total, inclusive = script.count_bytecodes(script.request("ir", kind))
    stock_total, stock_inclusive = script.count_bytecodes(script.request("pyevm", kind))
    assert any(where.startswith("evmkiln/") for where in inclusive)
    assert not any(where.startswith("evmkiln/") for where in stock_inclusive)
    assert max(inclusive.values()) <= total  # no function runs more than the request
    assert 0 < total < stock_total


def test_timing_gives_a_positive_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()
    monkeypatch.setattr(script, "WARM_UP_REQUESTS", 1)
    assert 0 < script.time_requests(script.request("pyevm", "call"), 2) < 60
