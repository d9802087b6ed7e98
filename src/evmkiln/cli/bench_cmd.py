"""``evmkiln bench``: the bench fixtures on py-evm, revm and evmkiln backends, compared.

All engines run in this one process, one fixture at a time, so they see the
same machine state; see :mod:`evmkiln.bench` for how runs are timed and
checked.  The exit code is 1 when engines disagree on any fixture (or an
engine fails), so the command doubles as a differential test.  With
``--artifacts DIR`` the evmkiln backends load contracts compiled ahead of time
instead of compiling them, and a table shows each load's time and how many
frames ran from artifacts.
"""

from __future__ import annotations

import datetime
import enum
import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evmkiln.bench.engines import PYEVM_FLAT
from evmkiln.bench.execution_clock import EXECUTION, TRANSACTION
from evmkiln.cli.artifacts_option import (
    ArtifactsOption,
    StrictAotOption,
    check_aot_backend,
    check_strict,
)
from evmkiln.cli.backend_option import checked_backends
from evmkiln.cli.fixtures_option import BENCH_SUBDIR, FixturesOption, require_fixtures_dir
from evmkiln.cli.fork_option import BENCH_FORK, ForkOption, checked_fork
from evmkiln.cli.json_output import json_option, write_output
from evmkiln.cli.run_cmd import resolve_fixture_path
from evmkiln.cli.runtime_option import (
    HotCallsOption,
    JitWorkersOption,
    RuntimeMode,
    RuntimeOption,
    runtime_policy,
)
from evmkiln.deep_stack import on_deep_stack
from evmkiln.statetest.backends import ArtifactsSetting

FIB_FIXTURE = "fibonacci-calldata"


class Timing(enum.Enum):
    execution = EXECUTION
    transaction = TRANSACTION


def _overrides(params: list[str], fib_iterations: int | None) -> dict[tuple[str, str], int]:
    """The ``--param`` values by (fixture, name), then ``--fib-iterations``'s over them.

    ``--fib-iterations N`` is parsed as ``--param fibonacci-calldata.iterations=N``,
    so that both refuse the same values with the same usage error.
    """
    from evmkiln.bench.parameters import ParameterError, parse_override

    given = [(text, "--param") for text in params]
    if fib_iterations is not None:
        given.append((f"{FIB_FIXTURE}.iterations={fib_iterations}", "--fib-iterations"))
    overrides: dict[tuple[str, str], int] = {}
    for text, option in given:
        try:
            fixture, name, value = parse_override(text)
        except ParameterError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
        overrides[(fixture, name)] = value
    return overrides


def _fixture_paths(names: list[str] | None, fixtures: Path | None) -> list[Path]:
    if names:
        return [resolve_fixture_path(name, fixtures) for name in names]
    directory = require_fixtures_dir(fixtures, BENCH_SUBDIR, "FIXTURE")
    return sorted(directory.glob("*.json"))


def bench(
    fixture_names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[FIXTURE]...", help="Bench fixture files or names; default: all of bench/."
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "-b",
            help="Comma-separated evmkiln backends (or pyevm-flat: py-evm's interpreter on "
            "evmkiln's flat state); default: all installed.",
        ),
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Timed runs per engine (at least).")] = 5,
    warmup: Annotated[
        int, typer.Option(min=1, help="Untimed runs first (the first one compiles).")
    ] = 1,
    warmup_time: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="And untimed runs until they total this (s, compiling excluded): small "
            "fixtures need dozens before Python has specialised the code they run.",
        ),
    ] = 0.25,
    min_time: Annotated[
        float, typer.Option(min=0.0, help="Keep repeating until timed runs total this (s).")
    ] = 0.0,
    budget: Annotated[
        float,
        typer.Option(help="Wall seconds per engine and fixture, compiling excluded; 0: no limit."),
    ] = 120.0,
    skip_slow: Annotated[
        bool,
        typer.Option(
            "--skip-slow", help="Skip py-evm and the ir interpreter on fixtures over --slow-gas."
        ),
    ] = False,
    slow_gas: Annotated[
        int, typer.Option(help="Gas above which --skip-slow skips interpreters.")
    ] = 50_000_000,
    fib_iterations: Annotated[
        int | None,
        typer.Option(help=f"Iterations of {FIB_FIXTURE} (its calldata); default: the fixture's."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Override a fixture parameter: FIXTURE.NAME=VALUE (repeatable)."),
    ] = None,
    timing: Annotated[
        Timing,
        typer.Option(
            help="Time the message's execution (py-evm's transaction bookkeeping excluded) "
            "or the whole transaction.",
        ),
    ] = Timing.execution,
    compile_samples: Annotated[
        int,
        typer.Option(
            min=1,
            help="Lower and compile each contract this many times (fresh backends) and "
            "report the median compile time.",
        ),
    ] = 1,
    pyevm: Annotated[bool, typer.Option(help="Include stock py-evm.")] = True,
    revm: Annotated[bool, typer.Option(help="Include revm (pyrevm).")] = True,
    json_out: Annotated[Path | None, json_option("Write machine-readable results here.")] = None,
    artifacts: ArtifactsOption = None,
    strict_aot: StrictAotOption = False,
    fixtures: FixturesOption = None,
    runtime: RuntimeOption = RuntimeMode.blocking,
    hot_calls: HotCallsOption = None,
    jit_workers: JitWorkersOption = None,
    fork: ForkOption = BENCH_FORK,
) -> None:
    """Time bench fixtures on py-evm, revm and evmkiln backends; check that they agree.

    With ``--runtime tiered`` each engine is timed once its runs stop promoting
    code (the steady state of a long-running process), and no compile is timed.
    """
    policy = runtime_policy(runtime, hot_calls, jit_workers)
    fork = checked_fork(fork)
    from evmkiln.bench.case import load_case
    from evmkiln.bench.machine import machine_info
    from evmkiln.bench.measure import ERROR, Settings
    from evmkiln.bench.report import aot_table, compile_table, results_json, results_table
    from evmkiln.bench.session import FixtureResult, make_engines, run_fixture
    from evmkiln.fixtures.loading import FixtureError
    from evmkiln.statetest.verdict import describe_exception

    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or file: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=200)
    overrides = _overrides(param or [], fib_iterations)
    backends = checked_backends(backend, also=[PYEVM_FLAT])
    try:
        cases = [
            load_case(path, overrides, fork) for path in _fixture_paths(fixture_names, fixtures)
        ]
    except FixtureError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for case in cases:
        for note in case.notes:
            console.print(f"{case.name}: {note}", style="dim")
    settings = Settings(
        repeat=repeat,
        warmup=warmup,
        warmup_time=warmup_time,
        min_time=min_time,
        budget=budget if budget > 0 else None,
        skip_slow=skip_slow,
        slow_gas=slow_gas,
        timing=timing.value,
    )
    check_strict(strict_aot, artifacts)
    for name in backends if artifacts is not None else []:
        check_aot_backend(name)
    engines = make_engines(
        backends,
        with_pyevm=pyevm,
        with_revm=revm,
        timing=timing.value,
        artifacts=(
            None if artifacts is None else ArtifactsSetting(str(artifacts), strict=strict_aot)
        ),
        compile_samples=compile_samples,
        runtime=policy,
    )

    results: list[FixtureResult] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[runs]} runs"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("bench", total=len(cases) * len(engines), runs=0)
        runs = 0

        def counted() -> None:
            nonlocal runs
            runs += 1
            progress.update(task, runs=runs)

        def run_all() -> None:
            for case in cases:
                started = False

                def on_engine(name: str, case_name: str = case.name) -> None:
                    nonlocal started
                    if started:
                        progress.advance(task)
                    started = True
                    progress.update(task, description=f"{case_name}: {name}")

                results.append(
                    run_fixture(case, engines, settings, counted, on_engine, describe_exception)
                )
                progress.advance(task)

        # Where 1024 nested frames fit, as in the state-test workers: every engine
        # then runs each frame on this thread, with nothing handed elsewhere.
        on_deep_stack(run_all)

    console.print(results_table(results, timing.value))
    compiles = compile_table(results)
    if compiles is not None:
        console.print(compiles)
    loads = aot_table(results)
    if loads is not None:
        console.print(loads)

    disagreements = [d for r in results for d in r.disagreements]
    inconsistent = [
        f"{r.case.name}: {name} {m.inconsistent}"
        for r in results
        for name, m in r.measurements.items()
        if m.inconsistent
    ]
    errors = [
        f"{r.case.name}: {name}: {m.reason}"
        for r in results
        for name, m in r.measurements.items()
        if m.state == ERROR
    ]
    for line in [d.describe() for d in disagreements] + inconsistent:
        console.print(f"[bold white on red]DISAGREEMENT[/] {line}")
    for line in errors:
        console.print(f"[bold red]ERROR[/] {line}")

    if json_out is not None:
        data = results_json(
            results,
            settings,
            machine=machine_info(),
            command=shlex.join(["evmkiln", *sys.argv[1:]]),
            date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        write_output(json_out, json.dumps(data, indent=1) + "\n")
        console.print(f"results written to {json_out}")
    if disagreements or inconsistent or errors:
        raise typer.Exit(1)
    console.print("[green]all engines agree[/green]")
