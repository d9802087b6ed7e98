"""``evmkiln run``: execute a bench fixture's transaction on one backend and show the result.

Bench fixtures carry no expected post-state; this command prints what the
transaction did (status, gas used, output, logs) and how long applying it
took, for comparing a backend with the ``pyevm`` baseline by eye or script.
With ``--artifacts`` it also says how many frames ran from artifacts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evmkiln.bench.case import fit_to_fork
from evmkiln.cli.artifacts_option import (
    ArtifactsOption,
    StrictAotOption,
    check_aot_backend,
    check_strict,
)
from evmkiln.cli.fixtures_option import BENCH_SUBDIR, FixturesOption
from evmkiln.cli.fork_option import BENCH_FORK, ForkOption, checked_fork
from evmkiln.cli.runtime_option import (
    HotCallsOption,
    JitWorkersOption,
    RuntimeMode,
    RuntimeOption,
    runtime_policy,
)
from evmkiln.deep_stack import on_deep_stack
from evmkiln.fixtures.loading import FixtureError, load_bench_file
from evmkiln.statetest.backends import (
    PYEVM_BACKEND,
    ArtifactsSetting,
    BackendUnavailable,
    resolve_vm_class,
)
from evmkiln.statetest.execution import Outcome, apply_transaction
from evmkiln.statetest.verdict import describe_exception


def resolve_fixture_path(fixture: str, fixtures: Path | None) -> Path:
    """A path as given, else a bench fixture name (``counter``) under the fixtures root."""
    given = Path(fixture)
    if given.is_file():
        return given
    if fixtures is not None:
        name = fixture if fixture.endswith(".json") else f"{fixture}.json"
        candidate = fixtures / BENCH_SUBDIR / name
        if candidate.is_file():
            return candidate
    raise typer.BadParameter(
        f"{fixture} is neither a file nor a bench fixture name under --fixtures/bench",
        param_hint="FIXTURE",
    )


def status_of(outcome: Outcome) -> str:
    """``success``, ``revert``, ``halt (<error>)`` or ``rejected: <reason>``."""
    if outcome.rejected is not None:
        return f"rejected: {outcome.rejected}"
    if outcome.success:
        return "success"
    if outcome.error == "Revert":
        return "revert"
    return f"halt ({outcome.error})"


def outcome_json(name: str, backend: str, outcome: Outcome, total: float) -> dict[str, Any]:
    return {
        "fixture": name,
        "backend": backend,
        "status": status_of(outcome),
        "gas_used": outcome.gas_used,
        "output": "0x" + outcome.output.hex(),
        "logs": [
            {
                "address": "0x" + log.address.hex(),
                "topics": [f"0x{topic:064x}" for topic in log.topics],
                "data": "0x" + log.data.hex(),
            }
            for log in outcome.logs
        ],
        "state_root": "0x" + outcome.state_root.hex(),
        "execution_seconds": outcome.seconds,
        "total_seconds": total,
    }


def _frames_json(stats: Any) -> dict[str, int]:
    """How the frames ran, from an evmkiln VM class's ``DispatchStats``."""
    return {
        "aot": stats.frames_run_aot,
        "jit": stats.frames_run_compiled - stats.frames_run_aot,
        "interpreted": stats.frames_interpreted,
        "without_code": stats.frames_without_code,
        "jit_codes": stats.frames_compiled,
        "artifacts_loaded": stats.aot_loaded,
    }


def _cache_json(vm_class: Any) -> dict[str, Any] | None:
    """What the persistent code cache did, once its writes are done; ``None`` if it is off."""
    disk = getattr(vm_class, "disk_cache", None)
    if disk is None:
        return None
    disk.flush()  # a one-transaction run: writing the cache is most of what is left to do
    stats = vm_class.stats
    return {
        "directory": str(disk.root),
        "loaded": stats.cache_loaded,
        "stored": stats.cache_stored,
        "rejected": stats.cache_rejected,
        "store_failures": stats.cache_store_failures,
        "compiled": stats.frames_compiled,
        "load_ms": round(disk.load_seconds * 1000, 3),
    }


def run(
    fixture: Annotated[
        str, typer.Argument(help="Bench fixture file, or its name under --fixtures/bench.")
    ],
    backend: Annotated[
        str,
        typer.Option(
            "--backend", "-b", help="pyevm (stock py-evm), an evmkiln backend, or module:VMClass."
        ),
    ] = PYEVM_BACKEND,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    artifacts: ArtifactsOption = None,
    strict_aot: StrictAotOption = False,
    fixtures: FixturesOption = None,
    runtime: RuntimeOption = RuntimeMode.blocking,
    hot_calls: HotCallsOption = None,
    jit_workers: JitWorkersOption = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Load and keep compiled code in the persistent code cache "
            "(EVMKILN_CACHE_DIR; EVMKILN_CACHE=off also turns it off).",
        ),
    ] = True,
    fork: ForkOption = BENCH_FORK,
) -> None:
    """Run a bench fixture (single transaction) and print status, gas, output and logs."""
    console = Console(highlight=False, soft_wrap=True)
    fork = checked_fork(fork)
    check_strict(strict_aot, artifacts)
    policy = runtime_policy(runtime, hot_calls, jit_workers)
    if artifacts is not None:
        check_aot_backend(backend)
    path = resolve_fixture_path(fixture, fixtures)
    try:
        bench = load_bench_file(path)
    except FixtureError as exc:
        console.print(f"[red]{exc}[/red]", markup=True)
        raise typer.Exit(2) from None
    try:
        vm_class = resolve_vm_class(
            backend,
            None if artifacts is None else ArtifactsSetting(str(artifacts), strict=strict_aot),
            fork=fork,
            runtime=policy,
            persistent_cache=None if cache else False,
        )
    except BackendUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None

    test = bench.fixture
    spec, note = fit_to_fork(test.tx.to_spec(), fork)
    if note is not None and not as_json:
        console.print(f"note       {note}")
    start = time.perf_counter()
    try:
        outcome = on_deep_stack(lambda: apply_transaction(vm_class, test.env, test.pre, spec))
    except Exception as exc:
        console.print(f"[red]error:[/red] {describe_exception(exc)}", markup=True)
        raise typer.Exit(1) from None
    total = time.perf_counter() - start

    stats = getattr(vm_class, "stats", None)
    frames = None if artifacts is None or stats is None else _frames_json(stats)
    code_cache = getattr(vm_class, "code_cache", None)
    snapshot = code_cache.snapshot() if policy is not None and code_cache is not None else None
    cached = _cache_json(vm_class)
    if as_json:
        data = outcome_json(bench.name, backend, outcome, total)
        if frames is not None:
            data["frames"] = frames
        if snapshot is not None:
            data["runtime"] = snapshot.as_dict()
        if cached is not None:
            data["code_cache"] = cached
        print(json.dumps(data, indent=1))
    else:
        console.print(f"fixture    {bench.name} ({path})")
        console.print(f"backend    {backend}")
        console.print(f"fork       {fork}")
        console.print(f"status     {status_of(outcome)}")
        console.print(f"gas used   {outcome.gas_used}")
        console.print(f"output     0x{outcome.output.hex()}")
        console.print(f"logs       {len(outcome.logs)}")
        for index, log in enumerate(outcome.logs):
            console.print(f"  [{index}] address 0x{log.address.hex()}")
            for topic in log.topics:
                console.print(f"      topic   0x{topic:064x}")
            console.print(f"      data    0x{log.data.hex()}")
        console.print(
            f"time       {outcome.seconds * 1000:.3f} ms executing "
            f"({total * 1000:.3f} ms with pre-state setup)"
        )
        if frames is not None:
            console.print(
                f"artifacts  {frames['aot']} frames ran from artifacts "
                f"({frames['artifacts_loaded']} loaded from {artifacts}), "
                f"{frames['jit']} on JIT-compiled code ({frames['jit_codes']} compiled)"
            )
        if cached is not None:
            console.print(
                f"code cache {cached['loaded']} loaded ({cached['load_ms']} ms), "
                f"{cached['compiled']} compiled, {cached['stored']} stored, "
                f"{cached['rejected']} refused ({cached['directory']})"
            )
        if snapshot is not None:
            hits = ", ".join(f"{n} {h}" for n, h in zip(snapshot.tiers, snapshot.hits, strict=True))
            console.print(
                f"runtime    frames by tier: {hits}; compiles queued {snapshot.queued}, "
                f"done {snapshot.done}, pending {snapshot.pending}"
            )
    if code_cache is not None and policy is not None:
        code_cache.close()
    if outcome.rejected is not None:
        raise typer.Exit(1)
