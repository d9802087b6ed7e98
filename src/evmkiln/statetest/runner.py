"""One state-test run: discover cases, run them in the pool, gather a report.

This is the library entry point shared by ``evmkiln statetest`` and the
conformance tests; it prints nothing itself (see :mod:`.report`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evmkiln.statetest.backends import DEFAULT_FORK, PYEVM_BACKEND, ArtifactsSetting
from evmkiln.statetest.discovery import Discovery, discover
from evmkiln.statetest.expectations import ExpectedFailures
from evmkiln.statetest.pool import DEFAULT_MAX_CASES_PER_WORKER, CasePool
from evmkiln.statetest.results import CaseResult, FrameCounts, Status

DEFAULT_TIMEOUT = 120.0


def default_jobs() -> int:
    return os.cpu_count() or 1


@dataclass
class RunConfig:
    """What to run and how."""

    paths: Sequence[Path] = ()
    listed: Sequence[str] = ()
    list_roots: Sequence[Path] = ()
    filters: Sequence[str] = ()
    backend: str = PYEVM_BACKEND
    fork: str = DEFAULT_FORK
    """Whose ``post`` entries run, on that fork's VM."""
    jobs: int = field(default_factory=default_jobs)
    timeout: float = DEFAULT_TIMEOUT
    max_cases_per_worker: int = DEFAULT_MAX_CASES_PER_WORKER
    expected_failures: ExpectedFailures = field(default_factory=ExpectedFailures)
    artifacts: ArtifactsSetting | None = None
    """Run the backend with code compiled ahead of time (see :mod:`.aot`)."""
    runtime: Any = None
    """The backend's :class:`~evmkiln.context.runtime.RuntimePolicy` (``None``:
    compile every code before it runs)."""


@dataclass
class RunReport:
    """Results of a run, in discovery order (file errors first)."""

    backend: str
    results: list[CaseResult]
    wall_time: float
    files: int
    fork: str = DEFAULT_FORK
    expected_failures: ExpectedFailures = field(default_factory=ExpectedFailures)
    aot: dict[str, Any] | None = None
    """What the ahead-of-time compile step did, when the run had one (``--aot``)."""

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def is_expected(self, result: CaseResult) -> bool:
        return result.case_id in self.expected_failures

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.status.is_failure]

    @property
    def unexpected_failures(self) -> list[CaseResult]:
        return [r for r in self.failures if not self.is_expected(r)]

    @property
    def unexpected_passes(self) -> list[CaseResult]:
        """Listed as expected failures, but passed: the list can be trimmed."""
        return [r for r in self.results if r.status is Status.PASSED and self.is_expected(r)]

    @property
    def ok(self) -> bool:
        return not self.unexpected_failures

    @property
    def frames(self) -> FrameCounts | None:
        """Frame counts summed over the cases that have them (None on stock py-evm)."""
        counted = [r.frames for r in self.results if r.frames is not None]
        return sum(counted, FrameCounts()) if counted else None

    def summary(self) -> dict[str, Any]:
        frames = self.frames
        return {
            "backend": self.backend,
            "fork": self.fork,
            "files": self.files,
            "cases": len(self.results),
            **{status.value: self.count(status) for status in Status},
            "unexpected_failures": len(self.unexpected_failures),
            "expected_failures_passing": len(self.unexpected_passes),
            "wall_time": round(self.wall_time, 3),
            **({} if frames is None else {"frames": dataclasses.asdict(frames)}),
            **({} if self.aot is None else {"aot": self.aot}),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "results": [
                {**r.to_json(), "expected_failure": self.is_expected(r)} for r in self.results
            ],
        }

    def json_text(self) -> str:
        """:meth:`to_json` as the text of a results file (the command line writes it)."""
        return json.dumps(self.to_json(), indent=1) + "\n"


def discover_cases(config: RunConfig) -> Discovery:
    return discover(
        config.paths,
        listed=config.listed,
        list_roots=config.list_roots,
        filters=config.filters,
        backend=config.backend,
        fork=config.fork,
    )


def run_discovered(
    config: RunConfig,
    found: Discovery,
    on_result: Callable[[CaseResult], None] | None = None,
) -> RunReport:
    """Run already-discovered cases (lets a caller size a progress bar first)."""
    start = time.monotonic()
    pool = CasePool(
        config.backend,
        config.jobs,
        config.timeout,
        config.max_cases_per_worker,
        artifacts=config.artifacts,
        fork=config.fork,
        runtime=config.runtime,
    )
    case_results = pool.run(found.cases, on_result)
    return RunReport(
        backend=config.backend,
        results=[*found.file_errors, *case_results],
        wall_time=time.monotonic() - start,
        files=found.files,
        fork=config.fork,
        expected_failures=config.expected_failures,
    )


def run_statetests(
    config: RunConfig, on_result: Callable[[CaseResult], None] | None = None
) -> RunReport:
    """Discover and run every selected case."""
    return run_discovered(config, discover_cases(config), on_result)
