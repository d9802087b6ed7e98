"""Backends' one-time set-up runs once per process, before any compile is timed."""

from __future__ import annotations

import pytest
from hostless import hostless_frame

from evmkiln.bench import engines
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context import get_backend


class _Counting:
    name = "counting"

    def __init__(self) -> None:
        self.warmed = 0

    def warm_up(self) -> None:
        self.warmed += 1


def test_warm_up_runs_once_per_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "_WARMED", set())
    backend = _Counting()
    engines._warm_up(backend)
    engines._warm_up(backend)
    assert backend.warmed == 1
    engines._warm_up(object())  # a backend without warm_up is left alone


@pytest.mark.parametrize("name", ["llvm", "wasm"])
def test_a_warmed_backend_still_compiles_and_runs(name: str) -> None:
    backend = get_backend(name)
    backend.warm_up()  # type: ignore[attr-defined]
    code = bytes.fromhex("602a60005260206000f3")  # RETURN a word holding 42
    frame = hostless_frame(code)
    assert backend.compile(lower_bytecode(code)).run(frame) is ExitKind.RETURN
    assert frame.output == (42).to_bytes(32, "big")
