"""Watching the wasm runtime hand frames to its helper thread."""

from __future__ import annotations

from typing import Any

import pytest

from evmkiln.backend_wasm import runtime


def count_helper_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The call depth of every frame handed to the helper thread from now on."""
    handed: list[int] = []
    original = runtime._on_helper_thread

    def counting(run: Any, frame: Any) -> Any:
        handed.append(frame.depth)
        return original(run, frame)

    monkeypatch.setattr(runtime, "_on_helper_thread", counting)
    return handed
