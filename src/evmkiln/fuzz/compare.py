"""Running a program on the reference and on candidate engines, and judging the results.

Outcomes are compared field by field as :class:`~evmkiln.fuzz.execute.Outcome`
defines equality: status, halt category (exceptional halts by category, not
by class), gas used, output, logs and post-state root.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from typing import Any

from evmkiln.fuzz.coverage import Observation, present_opcodes
from evmkiln.fuzz.program import Program
from evmkiln.fuzz.results import CandidateReport, EngineRun, ProgramReport, Verdict


def describe(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame, enough to tell two failures apart."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_engine(vm_class: Any, program: Program) -> EngineRun:
    """Run ``program`` on ``vm_class``; an exception becomes the run's error, never escapes."""
    started = time.perf_counter()
    try:
        outcome = program.run(vm_class)
    except Exception as exc:
        return EngineRun(None, describe(exc), time.perf_counter() - started)
    return EngineRun(outcome, "", time.perf_counter() - started)


def judge(reference: EngineRun, candidate: EngineRun) -> Verdict:
    if reference.outcome is None:
        return Verdict.INVALID
    if candidate.outcome is None:
        return Verdict.ERROR
    return Verdict.MATCH if candidate.outcome == reference.outcome else Verdict.MISMATCH


def _candidate(
    name: str, vm_class: Any, program: Program, expected: EngineRun, runs: int
) -> CandidateReport:
    """``runs`` runs of ``program`` on one VM class, stopping at the first that does not match."""
    seconds = 0.0
    for number in range(1, runs + 1):
        run = run_engine(vm_class, program)
        seconds += run.seconds
        verdict = judge(expected, run)
        if verdict is not Verdict.MATCH:
            return CandidateReport(name, verdict, seconds, run.outcome, run.error, number)
    return CandidateReport(name, Verdict.MATCH, seconds)


def compare_program(
    program: Program,
    reference: Any,
    candidates: Mapping[str, Any],
    observation: Observation | None = None,
    runs: int = 1,
) -> ProgramReport:
    """Run ``program`` on ``reference``, then ``runs`` times on each candidate VM class.

    Runs after the first find the program's code compiled already (one VM
    class, one code cache) and whatever else an engine keeps between
    transactions; each must still match the reference's single run.
    """
    if observation is not None:
        observation.reset()
    expected = run_engine(reference, program)
    executed = frozenset(observation.opcodes) if observation is not None else frozenset()
    halts = tuple(sorted(observation.halts.items())) if observation is not None else ()
    reports = [
        _candidate(name, vm_class, program, expected, runs) for name, vm_class in candidates.items()
    ]
    differs = any(r.verdict is not Verdict.MATCH for r in reports)
    top = expected.outcome.detail if expected.outcome is not None else ""
    return ProgramReport(
        family=program.family,
        reference_seconds=expected.seconds,
        reference_error=expected.error,
        expected=expected.outcome if differs or not reports else None,
        candidates=tuple(reports),
        executed=executed,
        present=present_opcodes(program.codes.values()),
        halts=halts,
        top_halt=top,
    )
