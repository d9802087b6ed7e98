"""``evmkiln fuzz``: differential fuzzing of backends against py-evm's interpreter.

Generates programs from a seed, runs each as a transaction on the reference
(stock py-evm, or ``--against`` another engine) and on every ``--backend``
in worker processes, and compares status, halt category, gas used, output,
logs and post-state root.  Mismatches and crashes are shrunk and written
as reproducers to ``--out``; ``--replay FILE`` runs one again.

Exit status: 0 when nothing failed (a replayed reproducer matches), 1 when
some program failed (the replayed one still does), 2 on a usage error or
an unreadable reproducer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evmkiln.fuzz.campaign import (
    DEFAULT_OUT,
    Campaign,
    CampaignConfig,
    CampaignResult,
    CampaignStats,
    Finding,
    Listener,
)
from evmkiln.fuzz.engines import REFERENCE, check_name
from evmkiln.fuzz.generate import FAMILIES
from evmkiln.fuzz.pool import DEFAULT_RECYCLE_AFTER, DEFAULT_TIMEOUT, WorkerStartError
from evmkiln.fuzz.reproducer import MAX_RUNS

_DEFAULT_PROGRAMS = 1_000
_DEFAULT_BACKEND = "ir"
_PLAIN_PROGRESS_SECONDS = 30.0


def _engines(option: str, hint: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in option.split(",") if name.strip())
    if not names:
        raise typer.BadParameter("name at least one engine", param_hint=hint)
    for name in names:
        problem = check_name(name)
        if problem is not None:
            raise typer.BadParameter(problem, param_hint=hint)
    return names


def _families(option: list[str] | None) -> tuple[str, ...] | None:
    if not option:
        return None
    names = tuple(name for item in option for name in item.split(",") if name)
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise typer.BadParameter(
            f"unknown family {', '.join(unknown)}; families: {', '.join(FAMILIES)}",
            param_hint="--family",
        )
    return names


def _replay(
    path: Path, backend: str | None, against: str | None, timeout: float, opt_level: int | None
) -> None:
    from evmkiln.fuzz.replay import replay
    from evmkiln.fuzz.reproducer import ReproducerError, load_reproducer
    from evmkiln.fuzz.summary import print_replay

    console = Console()
    try:
        reproducer = load_reproducer(path)
    except ReproducerError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    engines = _engines(backend or reproducer.backend, "--backend")
    if against is not None:
        _engines(against, "--against")
    try:
        result = replay(
            reproducer, ",".join(engines), against, timeout=timeout, opt_level=opt_level
        )
    except WorkerStartError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    print_replay(str(path), result, console)
    if reproducer.xfail:
        console.print(f"known issue: {reproducer.xfail}", highlight=False)
    if not result.matched:
        raise typer.Exit(1)


class _Display:
    """The progress bar (or, without a terminal, a line now and then) of a run."""

    def __init__(self, console: Console, config: CampaignConfig, quiet: bool) -> None:
        self.console = console
        self.config = config
        self.plain = not console.is_terminal and not quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if config.seconds is None else TextColumn("{task.fields[n]}"),
            TextColumn("[red]{task.fields[bad]} failing"),
            TextColumn("{task.fields[rate]} programs/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet or not console.is_terminal,
        )
        self.timed = config.seconds is not None and config.programs is None
        total = config.seconds if self.timed else config.programs
        self.task = self.progress.add_task(
            "fuzz " + ",".join(config.backends), total=total, bad=0, rate="-", n=0
        )
        self.last_line = time.monotonic()

    def on_program(self, stats: CampaignStats) -> None:
        elapsed = stats.wall_seconds
        rate = f"{stats.programs / elapsed:.1f}" if elapsed > 0 else "-"
        bad = stats.failures + stats.crashed_workers + len(stats.worker_errors)
        done = min(elapsed, self.config.seconds or 0.0) if self.timed else stats.programs
        self.progress.update(
            self.task, completed=done, bad=bad, rate=rate, n=f"{stats.programs} programs"
        )
        now = time.monotonic()
        if self.plain and now - self.last_line >= _PLAIN_PROGRESS_SECONDS:
            self.last_line = now
            self.console.print(
                f"[{elapsed:7.0f} s] {stats.programs} programs, {bad} failing, {rate} programs/s",
                markup=False,
                highlight=False,
            )

    def on_phase(self, phase: str, count: int) -> None:
        what = {"triage": "re-running crashed programs per engine", "shrink": "shrinking"}
        self.console.print(f"{what.get(phase, phase)}: {count} finding(s)", highlight=False)

    def on_item(self, finding: Finding) -> None:
        size = f", {finding.original_size} -> {finding.program.size()}" if finding.shrunk else ""
        self.console.print(
            f"  {finding.kind.value} on {finding.backend}, program {finding.index}{size}",
            highlight=False,
        )


def fuzz(
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "-b",
            help="Comma-separated engines to test: backends, or module:VMClass "
            f"(default: {_DEFAULT_BACKEND}; with --replay: the reproducer's).",
            show_default=False,
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help=f"Reference engine the backends are compared with (default: {REFERENCE}, "
            "stock py-evm).",
            show_default=False,
        ),
    ] = None,
    programs: Annotated[
        int | None,
        typer.Option(
            "--programs",
            "-n",
            min=1,
            help=f"Programs to run (default: {_DEFAULT_PROGRAMS} unless --seconds is given).",
            show_default=False,
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option("--seconds", min=0.001, help="Start programs for this long, then stop."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the generator.")] = 0,
    start: Annotated[
        int, typer.Option("--start", min=0, help="Index of the first program of the seed.")
    ] = 0,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: number of cores)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Where reproducers are written.")
    ] = DEFAULT_OUT,
    family: Annotated[
        list[str] | None,
        typer.Option(
            "--family",
            help=f"Only these generator families (repeatable): {', '.join(FAMILIES)}.",
        ),
    ] = None,
    shrink: Annotated[
        bool, typer.Option("--shrink/--no-shrink", help="Shrink findings before writing them.")
    ] = True,
    shrink_seconds: Annotated[
        float, typer.Option("--shrink-seconds", min=0.1, help="Time limit per finding shrunk.")
    ] = 60.0,
    max_shrinks: Annotated[
        int,
        typer.Option(
            "--max-shrinks",
            min=0,
            help="Shrink at most this many findings (the rest are written as found).",
        ),
    ] = 10,
    max_findings: Annotated[
        int,
        typer.Option(
            "--max-findings",
            min=1,
            help="Keep (triage, shrink, write) at most this many findings, those of the lowest "
            "program indices; the rest are counted.",
        ),
    ] = 100,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, help="Per-program time limit (a hang is a finding)."),
    ] = DEFAULT_TIMEOUT,
    recycle_after: Annotated[
        int,
        typer.Option(
            "--recycle-after",
            min=0,
            help="Restart a worker after this many programs, bounding compiled-code caches "
            "(0: never).",
        ),
    ] = DEFAULT_RECYCLE_AFTER,
    opt_level: Annotated[
        int | None,
        typer.Option(
            "--opt-level",
            min=0,
            max=3,
            help="Compile with this CompileOptions.opt_level (default: each backend's own).",
            show_default=False,
        ),
    ] = None,
    runs: Annotated[
        int,
        typer.Option(
            "--runs",
            min=1,
            max=MAX_RUNS,
            help="Runs of each program per backend in one VM: the first compiles its code, "
            "later ones reuse it; each must match the reference.",
        ),
    ] = 2,
    replay_file: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            dir_okay=False,
            help="Run a reproducer again and report whether the engine still disagrees.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")
    ] = False,
) -> None:
    """Differential fuzzing: generated programs on backends and on py-evm, compared."""
    if replay_file is not None:
        _replay(replay_file, backend, against, timeout, opt_level)
        return
    if programs is not None and seconds is not None:
        raise typer.BadParameter("give --programs or --seconds, not both", param_hint="--seconds")
    from evmkiln.fuzz.summary import print_summary
    from evmkiln.statetest.runner import default_jobs

    config = CampaignConfig(
        backends=_engines(backend or _DEFAULT_BACKEND, "--backend"),
        reference=_engines(against, "--against")[0] if against else REFERENCE,
        seed=seed,
        programs=programs if programs is not None or seconds is not None else _DEFAULT_PROGRAMS,
        seconds=seconds,
        start=start,
        jobs=jobs or default_jobs(),
        timeout=timeout,
        recycle_after=recycle_after,
        families=_families(family),
        out=out,
        shrink=shrink,
        shrink_seconds=shrink_seconds,
        max_shrinks=max_shrinks,
        max_findings=max_findings,
        opt_level=opt_level,
        runs=runs,
    )
    console = Console()
    display = _Display(console, config, quiet)
    listener = Listener(display.on_program, display.on_phase, display.on_item)
    try:
        with display.progress:
            result: CampaignResult = Campaign(config, listener).run()
    except WorkerStartError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    print_summary(result, console)
    if result.failed:
        raise typer.Exit(1)
