"""``evmkiln statetest``: run state tests on a backend and report.

ethereum/tests (``GeneralStateTests``) and execution-spec-tests files
(``eest/state_tests``) are read alike; ``--fork`` chooses whose ``post``
entries run, on that fork's VM.  Without paths, the Cancun run takes the
whole ethereum/tests suite and the later forks the whole EEST suite (the
only one with their cases).

Exit status: 0 when every failing case is listed in ``--expected-failures``,
1 when some other case failed, errored or timed out (or the ``--json`` file
could not be written), 2 on a usage error (including a selection that matches
no case).

``--artifacts DIR`` runs with code compiled ahead of time; ``--aot DIR`` first
compiles every contract of the selection into DIR (see
:mod:`evmkiln.statetest.aot`), then runs from it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

from evmkiln.cli.artifacts_option import (
    ArtifactsOption,
    StrictAotOption,
    check_aot_backend,
    check_strict,
)
from evmkiln.cli.backend_option import checked_vm_backend
from evmkiln.cli.fixtures_option import (
    EEST_STATETESTS_SUBDIR,
    STATETESTS_SUBDIR,
    FixturesOption,
    require_fixtures_dir,
)
from evmkiln.cli.fork_option import checked_fork
from evmkiln.cli.json_output import json_option, write_output
from evmkiln.cli.runtime_option import (
    HotCallsOption,
    JitWorkersOption,
    RuntimeMode,
    RuntimeOption,
    runtime_policy,
)
from evmkiln.forks import SUPPORTED_FORKS
from evmkiln.statetest.backends import DEFAULT_FORK, PYEVM_BACKEND, ArtifactsSetting
from evmkiln.statetest.discovery import read_path_list
from evmkiln.statetest.expectations import ExpectedFailures
from evmkiln.statetest.pool import DEFAULT_MAX_CASES_PER_WORKER
from evmkiln.statetest.report import print_report
from evmkiln.statetest.results import CaseRef, CaseResult, Status
from evmkiln.statetest.runner import (
    DEFAULT_TIMEOUT,
    RunConfig,
    default_jobs,
    discover_cases,
    run_discovered,
)

if TYPE_CHECKING:
    from evmkiln.context.artifact_store import CompiledArtifact

_PLAIN_PROGRESS_SECONDS = 30.0


def _compile_ahead(
    backend: str,
    fork: str,
    directory: Path,
    cases: list[CaseRef],
    jobs: int,
    console: Console,
    show_progress: bool,
) -> dict[str, Any]:
    """Compile the selection's contracts into ``directory`` with a progress bar; a summary."""
    from evmkiln.statetest.aot import CompileJob, prepare_artifacts

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task(f"{backend} AOT compile", total=None, failed=0)
        failed = 0

        def start(count: int) -> None:
            progress.update(task, total=count)

        def done(result: CompiledArtifact, outcome: str) -> None:
            nonlocal failed
            failed += result.path is None
            progress.update(task, advance=1, failed=failed)

        summary = prepare_artifacts(
            CompileJob(backend, str(directory), fork=fork),
            cases,
            jobs,
            on_start=start,
            on_done=done,
        )
    for digest, reason in summary.failed:
        console.print(
            f"[red]not compiled[/red] 0x{digest.hex()}: {reason}", highlight=False, soft_wrap=True
        )
    console.print(
        f"{summary.contracts} contracts: {summary.reused} already in {directory}, "
        f"{summary.compiled} compiled ({summary.replaced} replacing refused artifacts), "
        f"{len(summary.failed)} failed in {summary.seconds:.1f} s",
        markup=False,
        highlight=False,
    )
    return summary.to_json()


def statetest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Fixture files or directories (default: the whole GeneralStateTests suite).",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", "-b", help="pyevm (stock py-evm), an evmkiln backend, or module:VMClass."
        ),
    ] = PYEVM_BACKEND,
    fork: Annotated[
        str,
        typer.Option(
            "--fork",
            help=f"Run this fork's post entries on its VM: {', '.join(SUPPORTED_FORKS)}.",
        ),
    ] = DEFAULT_FORK,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: number of cores)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Per-case time limit in seconds.")
    ] = DEFAULT_TIMEOUT,
    max_cases_per_worker: Annotated[
        int,
        typer.Option(
            "--max-cases-per-worker",
            min=0,
            help="Restart a worker after this many cases, bounding backend caches (0: never).",
        ),
    ] = DEFAULT_MAX_CASES_PER_WORKER,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", "-k", help="Keep cases whose id or path contains this (repeatable)."
        ),
    ] = None,
    paths_from: Annotated[
        Path | None,
        typer.Option(
            "--paths-from",
            exists=True,
            dir_okay=False,
            help="File listing fixture files, one per line, relative to GeneralStateTests "
            "or eest/state_tests.",
        ),
    ] = None,
    expected_failures: Annotated[
        Path | None,
        typer.Option(
            "--expected-failures",
            exists=True,
            dir_okay=False,
            help="Case ids (or * patterns) whose failure does not fail the run.",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, json_option("Write per-case results to this JSON file.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")
    ] = False,
    artifacts: ArtifactsOption = None,
    aot: Annotated[
        Path | None,
        typer.Option(
            "--aot",
            file_okay=False,
            help="First compile every contract of the selection into this directory "
            "(reusing artifacts already there), then run with artifacts from it.",
        ),
    ] = None,
    strict_aot: StrictAotOption = False,
    fixtures: FixturesOption = None,
    runtime: RuntimeOption = RuntimeMode.blocking,
    hot_calls: HotCallsOption = None,
    jit_workers: JitWorkersOption = None,
) -> None:
    """Run state tests (one fork's post cases) and compare post-state roots and logs."""
    console = Console()
    policy = runtime_policy(runtime, hot_calls, jit_workers)
    fork = checked_fork(fork)
    backend = checked_vm_backend(backend)
    if artifacts is not None and aot is not None:
        raise typer.BadParameter("give --artifacts or --aot, not both", param_hint="--aot")
    artifacts_dir = aot if aot is not None else artifacts
    check_strict(strict_aot, artifacts_dir)
    if artifacts_dir is not None:
        check_aot_backend(backend, "--aot" if aot is not None else "--artifacts")
    suite_root = fixtures / STATETESTS_SUBDIR if fixtures is not None else None
    listed = read_path_list(paths_from) if paths_from is not None else []
    selected = list(paths or [])
    if not selected and not listed:
        suite = STATETESTS_SUBDIR if fork == DEFAULT_FORK else EEST_STATETESTS_SUBDIR
        selected = [require_fixtures_dir(fixtures, suite, "PATH")]
    # Listed paths are relative to GeneralStateTests or to eest/state_tests.
    list_roots = (
        [root for root in (suite_root, fixtures / EEST_STATETESTS_SUBDIR) if root.is_dir()]
        if fixtures is not None and suite_root is not None
        else []
    )
    config = RunConfig(
        paths=selected,
        listed=listed,
        list_roots=list_roots,
        filters=list(filters or []),
        backend=backend,
        fork=fork,
        jobs=jobs or default_jobs(),
        timeout=timeout,
        max_cases_per_worker=max_cases_per_worker,
        expected_failures=(
            ExpectedFailures.load(expected_failures)
            if expected_failures is not None
            else ExpectedFailures()
        ),
        artifacts=(
            None
            if artifacts_dir is None
            else ArtifactsSetting(str(artifacts_dir), preload=False, strict=strict_aot)
        ),
        runtime=policy,
    )
    found = discover_cases(config)
    if not found.cases and not found.file_errors:
        console.print("[red]No case matched the selection.[/red]")
        raise typer.Exit(2)

    show_progress = console.is_terminal and not quiet
    compiled = (
        None
        if aot is None
        else _compile_ahead(backend, fork, aot, found.cases, config.jobs, console, show_progress)
    )
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[bad]} bad"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress,
    )
    # Without a terminal (CI logs, redirected output) a plain line now and then
    # shows the run is alive without flooding the log.
    plain_progress = not console.is_terminal and not quiet
    started = last_line = time.monotonic()
    with progress:
        task = progress.add_task(backend, total=len(found.cases), bad=0)
        done = bad = 0

        def advance(result: CaseResult) -> None:
            nonlocal bad, done, last_line
            done += 1
            if result.status is not Status.PASSED:
                bad += 1
            progress.update(task, advance=1, bad=bad)
            now = time.monotonic()
            if plain_progress and now - last_line >= _PLAIN_PROGRESS_SECONDS:
                last_line = now
                console.print(
                    f"[{now - started:7.0f} s] {done}/{len(found.cases)} cases, {bad} not passed",
                    markup=False,
                    highlight=False,
                )

        report = run_discovered(config, found, advance)

    report.aot = compiled
    print_report(report, console)
    if json_out is not None:
        write_output(json_out, report.json_text())
        console.print(f"Per-case results written to {json_out}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
