"""A fuzzing run: generate, run on the pool, collect findings, shrink them, write reproducers.

The run itself only decides *that* something failed; understanding comes
after the last program.  Programs whose worker died are first run again on
each candidate engine alone (which one crashed?), then each finding is
shrunk on the same pool and written to ``out`` as a JSON reproducer.
Shrinking is bounded (``max_shrinks`` findings, ``shrink_seconds`` each):
a bug that fails thousands of programs is understood from the first few.
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evmkiln.fuzz.engines import REFERENCE
from evmkiln.fuzz.execute import Outcome
from evmkiln.fuzz.generate import generate
from evmkiln.fuzz.pool import DEFAULT_RECYCLE_AFTER, DEFAULT_TIMEOUT, Died, Reply, WorkerPool
from evmkiln.fuzz.program import Program
from evmkiln.fuzz.reproducer import Reproducer, write_reproducer
from evmkiln.fuzz.results import CandidateReport, ProgramReport, Verdict
from evmkiln.fuzz.shrink import Budget, shrink
from evmkiln.fuzz.worker import Task, WorkerSpec

DEFAULT_OUT = Path("out/fuzz")


class FindingKind(enum.Enum):
    MISMATCH = "mismatch"
    ERROR = "error"
    """The engine raised an exception instead of producing an outcome."""
    CRASH = "crash"
    """The worker process died (a signal or an exit) while running the program."""
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class CampaignConfig:
    backends: tuple[str, ...]
    reference: str = REFERENCE
    seed: int = 0
    programs: int | None = 1_000
    seconds: float | None = None
    """Stop starting programs after this long (with ``programs``: whichever comes first)."""
    start: int = 0
    """Index of the first program (a run over [start, start + programs) of the seed)."""
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT
    recycle_after: int = DEFAULT_RECYCLE_AFTER
    families: tuple[str, ...] | None = None
    out: Path = DEFAULT_OUT
    shrink: bool = True
    shrink_seconds: float = 60.0
    max_shrinks: int = 10
    max_findings: int = 100
    """Findings kept (those of the lowest program indices): a bug that fails every
    program must not fill the memory and the disk of a 100,000-program run."""
    opt_level: int | None = None
    runs: int = 2
    """Runs of each program on each backend: the first compiles, later ones reuse."""

    def spec(self) -> WorkerSpec:
        return WorkerSpec(
            self.reference, self.backends, self.seed, self.families, self.opt_level, self.runs
        )


@dataclass
class Finding:
    """A program on which ``backend`` failed, as found, then as shrunk."""

    kind: FindingKind
    backend: str
    index: int | None
    program: Program
    detail: str
    expected: Outcome | None = None
    actual: Outcome | None = None
    original_size: int = 0
    shrunk: bool = False
    shrink_runs: int = 0
    path: Path | None = None


@dataclass
class EngineTotals:
    seconds: float = 0.0
    runs: int = 0
    mismatches: int = 0
    errors: int = 0
    crashes: int = 0
    timeouts: int = 0

    @property
    def failures(self) -> int:
        return self.mismatches + self.errors + self.crashes + self.timeouts


@dataclass
class CampaignStats:
    """Running totals over the programs of a run (order-independent)."""

    engines: dict[str, EngineTotals]
    programs: int = 0
    families: Counter[str] = field(default_factory=Counter)
    executed: set[int] = field(default_factory=set)
    present: set[int] = field(default_factory=set)
    halts: Counter[str] = field(default_factory=Counter)
    """Halts of every frame of the reference runs, by py-evm exception class."""
    outcomes: Counter[str] = field(default_factory=Counter)
    """How the transactions themselves ended: "ok" or py-evm's exception class."""
    reference: EngineTotals = field(default_factory=EngineTotals)
    invalid: int = 0
    """Programs the reference itself could not run (nothing was compared)."""
    worker_errors: list[str] = field(default_factory=list)
    crashed_workers: int = 0
    unkept: int = 0
    """Findings counted but not kept (over ``max_findings``)."""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def wall_seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def failures(self) -> int:
        return sum(t.failures for t in self.engines.values())

    def add(self, report: ProgramReport) -> None:
        self.programs += 1
        self.families[report.family] += 1
        self.executed |= report.executed
        self.present |= report.present
        self.halts.update(dict(report.halts))
        self.reference.runs += 1
        self.reference.seconds += report.reference_seconds
        if report.reference_error:
            self.invalid += 1
            return
        self.outcomes[report.top_halt or "ok"] += 1
        for candidate in report.candidates:
            totals = self.engines[candidate.engine]
            totals.runs += 1
            totals.seconds += candidate.seconds
            totals.mismatches += candidate.verdict is Verdict.MISMATCH
            totals.errors += candidate.verdict is Verdict.ERROR


@dataclass
class CampaignResult:
    config: CampaignConfig
    stats: CampaignStats
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return bool(self.findings or self.stats.worker_errors or self.stats.unkept)


@dataclass
class Listener:
    """Progress callbacks of a run (all optional)."""

    on_program: Callable[[CampaignStats], None] | None = None
    on_phase: Callable[[str, int], None] | None = None
    """A phase after the run starts (``"triage"``, ``"shrink"``) with its number of items."""
    on_item: Callable[[Finding], None] | None = None


def _tasks(config: CampaignConfig) -> Iterator[Task]:
    deadline = None if config.seconds is None else time.monotonic() + config.seconds
    n = 0
    while config.programs is None or n < config.programs:
        if deadline is not None and time.monotonic() >= deadline:
            return
        yield Task(id=n, index=config.start + n)
        n += 1


def _finding_from(
    report: CandidateReport, parent: ProgramReport, index: int | None, program: Program
) -> Finding:
    """The finding a candidate's MISMATCH or ERROR verdict stands for."""
    kind = FindingKind.MISMATCH if report.verdict is Verdict.MISMATCH else FindingKind.ERROR
    return Finding(
        kind=kind,
        backend=report.engine,
        index=index,
        program=program,
        detail=report.describe(parent.expected),
        expected=parent.expected,
        actual=report.outcome,
    )


class Campaign:
    """One run of :class:`CampaignConfig` on a pool of workers."""

    def __init__(self, config: CampaignConfig, listener: Listener | None = None) -> None:
        self.config = config
        self.listener = listener or Listener()
        self.stats = CampaignStats(engines={name: EngineTotals() for name in config.backends})
        self.findings: list[Finding] = []
        self._died: list[tuple[Task, Died]] = []
        self._ids = 1 << 40  # ids of follow-up tasks, apart from the run's

    def _program(self, index: int | None) -> Program:
        assert index is not None
        return generate(self.config.seed, index, self.config.families)

    def _on_reply(self, task: Task, reply: Reply) -> None:
        if isinstance(reply, ProgramReport):
            self.stats.add(reply)
            for candidate in reply.failed():
                program = self._program(task.index)
                self._keep(_finding_from(candidate, reply, task.index, program))
        elif isinstance(reply, Died):
            self.stats.programs += 1
            self.stats.crashed_workers += 1
            self._died.append((task, reply))
            if len(self._died) > 2 * self.config.max_findings:
                self._died.sort(key=lambda item: item[0].index or 0)
                self.stats.unkept += len(self._died) - self.config.max_findings
                del self._died[self.config.max_findings :]
        else:
            self.stats.programs += 1
            self.stats.worker_errors.append(f"program {task.index}: {reply}")
        if self.listener.on_program is not None:
            self.listener.on_program(self.stats)

    def run(self) -> CampaignResult:
        with WorkerPool(
            self.config.spec(), self.config.jobs, self.config.timeout, self.config.recycle_after
        ) as pool:
            pool.run(_tasks(self.config), self._on_reply)
            self.stats.finished = time.monotonic()
            self._triage(pool)
            self._trim()
            if self.config.shrink:
                self._shrink_all(pool)
        for finding in self.findings:
            finding.path = write_reproducer(self.reproducer(finding), self.config.out)
        return CampaignResult(self.config, self.stats, self.findings)

    def reproducer(self, finding: Finding) -> Reproducer:
        return Reproducer.of(
            finding.program,
            kind=finding.kind.value,
            backend=finding.backend,
            reference=self.config.reference,
            seed=self.config.seed,
            index=finding.index,
            expected=finding.expected,
            actual=finding.actual,
            detail=finding.detail,
            original_size=finding.original_size or finding.program.size(),
            runs=self.config.runs,
        )

    def _keep(self, finding: Finding) -> None:
        self.findings.append(finding)
        if len(self.findings) > 2 * self.config.max_findings:
            self._trim()

    def _trim(self) -> None:
        """Keep the ``max_findings`` findings of the lowest indices, in a stable order."""
        self.findings.sort(key=lambda f: (f.index if f.index is not None else -1, f.backend))
        self.stats.unkept += max(0, len(self.findings) - self.config.max_findings)
        del self.findings[self.config.max_findings :]

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _triage(self, pool: WorkerPool) -> None:
        """Find which candidate engine a dead worker's program kills, running each alone."""
        if self._died and self.listener.on_phase is not None:
            self.listener.on_phase("triage", len(self._died))
        for task, died in self._died:
            program = self._program(task.index)
            kind = FindingKind.TIMEOUT if died.timed_out else FindingKind.CRASH
            culprits: list[Finding] = []
            if len(self.config.backends) > 1:
                for backend in self.config.backends:
                    reply = pool.run_one(Task(self._next_id(), program=program, engines=(backend,)))
                    if isinstance(reply, Died):
                        culprits.append(Finding(kind, backend, task.index, program, reply.reason))
                    elif isinstance(reply, ProgramReport):
                        culprits += [
                            _finding_from(candidate, reply, task.index, program)
                            for candidate in reply.failed()
                        ]
            if not culprits:  # a single candidate, or the crash needs them all
                backend = ",".join(self.config.backends)
                culprits.append(Finding(kind, backend, task.index, program, died.reason))
            for finding in culprits:
                totals = self.stats.engines.get(finding.backend)
                if totals is not None:
                    totals.crashes += finding.kind is FindingKind.CRASH
                    totals.timeouts += finding.kind is FindingKind.TIMEOUT
                    totals.mismatches += finding.kind is FindingKind.MISMATCH
                    totals.errors += finding.kind is FindingKind.ERROR
                if self.listener.on_item is not None:
                    self.listener.on_item(finding)
            self.findings.extend(culprits)

    def _still_fails(self, pool: WorkerPool, finding: Finding) -> Callable[[Program], bool]:
        engines = tuple(finding.backend.split(","))

        def still_fails(program: Program) -> bool:
            reply = pool.run_one(Task(self._next_id(), program=program, engines=engines))
            if finding.kind is FindingKind.CRASH:
                return isinstance(reply, Died) and not reply.timed_out
            if finding.kind is FindingKind.TIMEOUT:
                return isinstance(reply, Died) and reply.timed_out
            if not isinstance(reply, ProgramReport) or reply.reference_error:
                return False
            wanted = Verdict.MISMATCH if finding.kind is FindingKind.MISMATCH else Verdict.ERROR
            return any(
                c.verdict is wanted and _same_error(c.error, finding.detail, finding.kind)
                for c in reply.candidates
            )

        return still_fails

    def _shrink_all(self, pool: WorkerPool) -> None:
        todo = [f for f in self.findings if f.kind is not FindingKind.TIMEOUT]
        todo = todo[: self.config.max_shrinks]
        if todo and self.listener.on_phase is not None:
            self.listener.on_phase("shrink", len(todo))
        for finding in todo:
            finding.original_size = finding.program.size()
            budget = Budget(seconds=self.config.shrink_seconds)
            finding.program = shrink(finding.program, self._still_fails(pool, finding), budget)
            finding.shrunk = True
            finding.shrink_runs = budget.runs
            self._settle(pool, finding)
            if self.listener.on_item is not None:
                self.listener.on_item(finding)
        for finding in self.findings:
            if not finding.original_size:
                finding.original_size = finding.program.size()

    def _settle(self, pool: WorkerPool, finding: Finding) -> None:
        """Outcomes of the shrunk program: what the reproducer records.

        A crash is run on the reference alone (the candidate would kill the worker again).
        """
        crash = finding.kind in (FindingKind.CRASH, FindingKind.TIMEOUT)
        engines = () if crash else tuple(finding.backend.split(","))
        reply = pool.run_one(Task(self._next_id(), program=finding.program, engines=engines))
        if not isinstance(reply, ProgramReport):
            return
        if crash:
            finding.expected = reply.expected
            return
        failed = reply.failed()
        if not failed:
            finding.detail += " (the shrunk program did not fail again when re-run)"
            return
        finding.expected = reply.expected
        finding.actual = failed[0].outcome
        finding.detail = failed[0].describe(reply.expected)


def _same_error(error: str, recorded: str, kind: FindingKind) -> bool:
    """For ERROR findings: the same exception type as the one found; mismatches: any."""
    if kind is not FindingKind.ERROR:
        return True
    return error.split(":", 1)[0] == recorded.split(":", 1)[0]


def run_campaign(config: CampaignConfig, listener: Listener | None = None) -> CampaignResult:
    return Campaign(config, listener).run()
