"""Running a reproducer again: does the engine still disagree with the reference?

By default the program runs in a worker process, like in the fuzzing run,
so that replaying a crash reports the crash instead of taking the caller
down with it.  ``isolated=False`` runs it in this process (what the
regression tests do for reproducers that do not crash).
"""

from __future__ import annotations

from dataclasses import dataclass

from evmkiln.fuzz.compare import compare_program
from evmkiln.fuzz.engines import load_reference, vm_class
from evmkiln.fuzz.execute import Outcome
from evmkiln.fuzz.pool import DEFAULT_TIMEOUT, Died, WorkerPool
from evmkiln.fuzz.reproducer import Reproducer
from evmkiln.fuzz.results import ProgramReport
from evmkiln.fuzz.worker import Task, WorkerSpec


@dataclass(frozen=True)
class ReplayResult:
    backend: str
    reference: str
    verdict: str
    """"match", "mismatch", "error", "crash", "timeout", or "invalid" (the reference failed)."""
    expected: Outcome | None = None
    actual: Outcome | None = None
    detail: str = ""

    @property
    def matched(self) -> bool:
        return self.verdict == "match"


def replay(
    reproducer: Reproducer,
    backend: str | None = None,
    reference: str | None = None,
    *,
    isolated: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    opt_level: int | None = None,
) -> ReplayResult:
    """Run ``reproducer``'s program on its backend (or ``backend``) and on the reference."""
    engines = tuple((backend or reproducer.backend).split(","))
    against = reference or reproducer.reference
    program = reproducer.program()
    name = ",".join(engines)
    if isolated:
        spec = WorkerSpec(against, engines, opt_level=opt_level, runs=reproducer.runs)
        with WorkerPool(spec, jobs=1, timeout=timeout) as pool:
            reply = pool.run_one(Task(0, program=program))
    else:
        reference_vm, observation = load_reference(against, opt_level)
        candidates = {engine: vm_class(engine, opt_level) for engine in engines}
        reply = compare_program(program, reference_vm, candidates, observation, reproducer.runs)
    if isinstance(reply, Died):
        return ReplayResult(
            name, against, "timeout" if reply.timed_out else "crash", detail=reply.reason
        )
    if not isinstance(reply, ProgramReport):
        return ReplayResult(name, against, "error", detail=reply)
    if reply.reference_error:
        return ReplayResult(name, against, "invalid", detail=reply.reference_error)
    for candidate in reply.failed():
        return ReplayResult(
            candidate.engine,
            against,
            candidate.verdict.value,
            reply.expected,
            candidate.outcome,
            candidate.describe(reply.expected),
        )
    return ReplayResult(name, against, "match")
