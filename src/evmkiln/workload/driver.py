"""Running every configuration in a fresh process, and checking them against stock py-evm.

Cold means cold: each run is a new Python process (``python -m
evmkiln.workload.runner``), so no import, compiled code, compiler process or
state is left from another run, and the persistent code cache is off
(``EVMKILN_CACHE=off``).  ``--repeat N`` runs the configurations round-robin
N times (a shared machine's load then falls on all of them alike) and the
report takes medians.

The warm persistent cache is one more configuration, ``warm-cache``: the
default policy with the cache on, in a directory of its own (``--cache-dir``
or ``EVMKILN_CACHE_DIR``).  Before its first timed run the driver runs it
once to fill the cache (reported as ``fill``); every timed run then starts a
new process on the filled cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evmkiln.workload.configurations import CONFIGURATIONS, REFERENCE
from evmkiln.workload.spec import WorkloadSpec

CACHE_DIR_ENV = "EVMKILN_CACHE_DIR"


@dataclass(slots=True)
class Run:
    """One process: a configuration's run of the whole stream."""

    configuration: str
    round: int
    """0-based; ``-1`` for the warm cache's filling run."""
    process_seconds: float
    result: dict[str, Any] | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass(slots=True)
class Mismatch:
    configuration: str
    what: str


@dataclass(slots=True)
class WorkloadReport:
    spec: WorkloadSpec
    runs: list[Run] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    """Configurations that could not run here, and why."""


def _child_env(persistent: bool, cache_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if persistent and cache_dir is not None:
        env.pop("EVMKILN_CACHE", None)
        env[CACHE_DIR_ENV] = str(cache_dir)
    else:
        env["EVMKILN_CACHE"] = "off"
    return env


def run_one(
    spec_path: Path, configuration: str, out: Path, *, cache_dir: Path | None, round_: int
) -> Run:
    """Start one process for ``configuration``; its wall time is taken around the whole process."""
    config = CONFIGURATIONS[configuration]
    command = [sys.executable, "-m", "evmkiln.workload.runner", str(spec_path), configuration]
    command.append(str(out))
    if config.persistent and cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    start = time.perf_counter()
    completed = subprocess.run(
        command,
        env=_child_env(config.persistent, cache_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0 or not out.exists():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        return Run(configuration, round_, seconds, None, "\n".join(tail) or "no output")
    import json

    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return Run(configuration, round_, seconds, result)


def compare(reference: dict[str, Any], other: dict[str, Any], spec: WorkloadSpec) -> list[str]:
    """How ``other``'s outcomes and state roots differ from ``reference``'s (empty: they agree)."""
    problems: list[str] = []
    ours, theirs = reference["outcomes"], other["outcomes"]
    if len(ours) != len(theirs):
        problems.append(f"{len(theirs)} transactions, expected {len(ours)}")
    for position, (want, got) in enumerate(zip(ours, theirs, strict=False)):
        if want != got:
            contract = spec.contracts[spec.transactions[position][0]].name
            fields = ", ".join(
                f"{name}: {got.get(name)!r} != {want.get(name)!r}"
                for name in want
                if want.get(name) != got.get(name)
            )
            problems.append(f"transaction {position} ({contract}): {fields}")
    for block, (want_root, got_root) in enumerate(
        zip(reference["state_roots"], other["state_roots"], strict=False)
    ):
        if want_root != got_root:
            problems.append(f"block {block + 1}: state root {got_root} != {want_root}")
            break
    return problems


def run_workload(
    spec: WorkloadSpec,
    configurations: Sequence[str],
    *,
    repeat: int = 1,
    cache_dir: Path | None = None,
    workdir: Path | None = None,
    on_run: Callable[[Run], None] | None = None,
) -> WorkloadReport:
    """Run ``configurations`` (stock py-evm always too) ``repeat`` times each, round-robin."""
    from evmkiln.workload.configurations import persistent_cache_available

    report = WorkloadReport(spec)
    names = [REFERENCE, *(c for c in configurations if c != REFERENCE)]
    if "warm-cache" in names:
        cache_dir = cache_dir or (
            Path(os.environ[CACHE_DIR_ENV]) if os.environ.get(CACHE_DIR_ENV) else None
        )
        reason = ""
        if not persistent_cache_available():
            reason = "needs the persistent code cache (make_vm_class(persistent_cache=...))"
        elif cache_dir is None:
            reason = f"needs --cache-dir or {CACHE_DIR_ENV}"
        if reason:
            report.unavailable["warm-cache"] = reason
            names.remove("warm-cache")
    with tempfile.TemporaryDirectory(prefix="evmkiln-workload-") as scratch:
        base = workdir or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        spec_path = base / "workload.json"
        spec.write(spec_path)
        out = base / "run.json"

        def one(name: str, round_: int) -> Run:
            run = run_one(spec_path, name, out, cache_dir=cache_dir, round_=round_)
            report.runs.append(run)
            if on_run is not None:
                on_run(run)
            return run

        if "warm-cache" in names:
            one("warm-cache", -1)
        for round_ in range(repeat):
            for name in names:
                one(name, round_)
    _check(report)
    return report


def _check(report: WorkloadReport) -> None:
    reference = next((r for r in report.runs if r.configuration == REFERENCE and r.ok), None)
    if reference is None or reference.result is None:
        report.mismatches.append(Mismatch(REFERENCE, "stock py-evm did not finish"))
        return
    for run in report.runs:
        if run is reference:
            continue
        if run.result is None:
            report.mismatches.append(Mismatch(run.configuration, f"failed: {run.error}"))
            continue
        for problem in compare(reference.result, run.result, report.spec):
            report.mismatches.append(Mismatch(run.configuration, problem))
