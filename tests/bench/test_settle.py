"""A tiered engine is timed on the code a long-running process would run."""

from __future__ import annotations

from typing import Any

import pytest

from evmkiln.bench.engines import PyEvmRunner


class Cache:
    """A tiered code cache that settles after ``runs_to_settle`` runs."""

    def __init__(self, events: list[str], runs_to_settle: int) -> None:
        self.events = events
        self.runs_to_settle = runs_to_settle

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True

    def settled(self) -> bool:
        return self.events.count("run") >= self.runs_to_settle


class Backend:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def wait_for_tier_ups(self) -> None:
        self.events.append("wait for tier-ups")


@pytest.mark.parametrize("runs_to_settle", [0, 3])
def test_a_run_on_the_settled_tiers_comes_before_waiting_for_tier_ups(runs_to_settle: int) -> None:
    """The run that queues a large function's optimising tier-up, as in blocking mode.

    Without it a tiered engine was timed on LLVM's fast code generator's code
    (snailtracer 160 ms against 38-50 ms blocking): its tier-up was queued by
    the first timed run and landed after the last.
    """
    events: list[str] = []
    vm_class: Any = type("VM", (), {"code_cache": Cache(events, runs_to_settle)})

    class Counted(PyEvmRunner):
        def run(self) -> Any:
            events.append("run")

    Counted(vm_class, case=None, backend=Backend(events)).settle()  # type: ignore[arg-type]
    assert events == ["run"] * (runs_to_settle + 1) + ["wait for tier-ups"]
