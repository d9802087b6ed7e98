"""``evmkiln soak``: many transactions over many contracts; is resident memory bounded?

Prints a checkpoint table (transactions, time, resident memory of this
process and of the compiler process, codes cached and compiled) and the
growth from the first quarter's checkpoint to the end.  Exits non-zero when a
checked transaction differs from stock py-evm or the growth passes
``--max-growth-mb``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evmkiln.cli.backend_option import checked_backend
from evmkiln.cli.json_output import json_option, write_output
from evmkiln.context.code_cache import DEFAULT_MAX_ENTRIES
from evmkiln.soak import Checkpoint, SoakResult, soak

_MB = 1 << 20


def _compiler_pid(backend: Any) -> int | None:
    compiler = getattr(backend, "compiler", None)
    pid = getattr(compiler, "pid", None)
    return pid if isinstance(pid, int) else None


def _row(point: Checkpoint, before: Checkpoint | None = None) -> list[str]:
    """A table row; the rate is over the interval since ``before`` (compiles included)."""
    compiler = "-" if point.compiler_rss_bytes is None else f"{point.compiler_rss_bytes / _MB:.0f}"
    done = point.transactions - (before.transactions if before else 0)
    took = point.seconds - (before.seconds if before else 0.0)
    rate = done / took if took > 0 else 0.0
    return [
        f"{point.transactions:,}",
        f"{point.seconds:.1f}",
        f"{rate:,.0f}",
        f"{point.rss_bytes / _MB:.1f}",
        compiler,
        f"{point.cached_codes:,}",
        f"{point.codes_compiled:,}",
    ]


def _report(console: Console, result: SoakResult) -> None:
    table = Table(title=f"soak: {result.backend}, {result.contracts:,} contracts")
    for column in ("transactions", "s", "tx/s", "RSS MB", "compiler MB", "cached", "compiled"):
        table.add_column(column, justify="right")
    before = None
    for point in result.checkpoints:
        table.add_row(*_row(point, before))
        before = point
    console.print(table)
    console.print(
        f"growth after the first quarter: {result.growth_bytes / _MB:+.1f} MB; "
        f"{result.checked:,} transactions checked against py-evm, "
        f"{len(result.mismatches)} mismatch(es); {result.compile_failures} compile failure(s)"
    )
    for mismatch in result.mismatches[:5]:
        console.print(f"[red]MISMATCH[/red] {mismatch}")


def soak_command(
    backend: Annotated[str, typer.Option("--backend", "-b", help="evmkiln backend.")] = "llvm",
    contracts: Annotated[
        int, typer.Option(min=4, help="Distinct contracts (codes) in the genesis state.")
    ] = 1000,
    transactions: Annotated[int, typer.Option(min=1, help="Transactions to run.")] = 100_000,
    cache_size: Annotated[
        int, typer.Option(min=1, help="Code cache entries (evicting beyond it).")
    ] = DEFAULT_MAX_ENTRIES,
    checkpoints: Annotated[int, typer.Option(min=1, help="Memory samples over the run.")] = 20,
    check_every: Annotated[
        int, typer.Option(min=1, help="Check every N-th transaction against py-evm.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the contract choice.")] = 1,
    max_growth_mb: Annotated[
        float, typer.Option(help="Fail when RSS grows more than this after the first quarter.")
    ] = 64.0,
    json_out: Annotated[Path | None, json_option("Write checkpoints and totals as JSON.")] = None,
) -> None:
    """Run many transactions over many contracts and report resident memory."""
    console = Console()
    result = soak(
        checked_backend(backend),
        contracts=contracts,
        transactions=transactions,
        cache_size=cache_size,
        checkpoints=checkpoints,
        check_every=check_every,
        seed=seed,
        compiler_pid=_compiler_pid,
        on_checkpoint=lambda p: console.print(f"{p.transactions:,} transactions", style="dim"),
    )
    _report(console, result)
    if json_out is not None:
        payload = {**asdict(result), "growth_bytes": result.growth_bytes}
        write_output(json_out, json.dumps(payload, indent=2, default=lambda b: b.hex()))
    if result.mismatches or result.growth_bytes > max_growth_mb * _MB:
        raise typer.Exit(1)
