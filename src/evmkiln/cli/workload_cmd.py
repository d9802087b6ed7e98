"""``evmkiln workload``: a stream of transactions over many contracts, each configuration cold.

The question it answers is issue 11's: is evmkiln, as an application would
use it (``RuntimePolicy()``), ever slower than the py-evm it wraps on a
workload of many contracts met a few times each?  Prints a table of median
wall times (whole process, setup, the stream of blocks, the EVM part of it)
per configuration, ratios to stock py-evm, the targets, and any transaction
or state root that differs from stock py-evm (exit code 1 then).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evmkiln.cli.fixtures_option import FixturesOption, require_fixtures_dir
from evmkiln.cli.json_output import json_option, write_output
from evmkiln.workload.configurations import CONFIGURATIONS, DEFAULT_CONFIGURATIONS
from evmkiln.workload.driver import Run, WorkloadReport, run_workload
from evmkiln.workload.plan import (
    DEFAULT_CONTRACTS,
    DEFAULT_MAX_TX_GAS,
    DEFAULT_TRANSACTIONS,
    DEFAULT_ZIPF,
    build_spec,
)
from evmkiln.workload.summary import contract_breakdown, report_json, summarize, targets


def _loaded(codes: int | None, seconds: float | None) -> str:
    """Codes loaded from the persistent cache, and the mean load time of one."""
    if not codes:
        return "-"
    if seconds is None:
        return f"{codes:,}"
    return f"{codes:,} ({seconds / codes * 1e3:.2f} ms each)"


def _seconds(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.2f}"


def _ratio(value: float) -> str:
    return "-" if value != value else f"{value:.2f}x"


def _print_report(console: Console, report: WorkloadReport) -> None:
    spec = report.spec
    counts = spec.calls_per_contract()
    bands = [
        ("0", sum(1 for n in counts if n == 0)),
        ("1", sum(1 for n in counts if n == 1)),
        ("2-7", sum(1 for n in counts if 2 <= n <= 7)),
        ("8-63", sum(1 for n in counts if 8 <= n <= 63)),
        (">=64", sum(1 for n in counts if n >= 64)),
    ]
    console.print(
        f"{len(spec.transactions):,} transactions in {len(spec.blocks):,} blocks over "
        f"{len(spec.contracts):,} contracts (seed {spec.seed}, Zipf {spec.zipf:g}); "
        "contracts by transactions: " + ", ".join(f"{band}: {n}" for band, n in bands)
    )
    rows = summarize(report)
    table = Table(title="workload: median seconds per configuration, each in a fresh process")
    columns = ("configuration", "runs", "process", "setup", "stream", "CPU", "compiler CPU",
               "EVM", "stream x", "EVM x", "compiled", "loaded", "agree")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for row in rows:
        table.add_row(
            row.configuration,
            str(row.runs),
            _seconds(row.process_seconds),
            _seconds(row.setup_seconds),
            _seconds(row.stream_seconds),
            _seconds(row.stream_cpu_seconds),
            _seconds(row.compiler_cpu_seconds),
            _seconds(row.evm_seconds),
            _ratio(row.stream_speedup),
            _ratio(row.evm_speedup),
            "-" if row.codes_compiled is None else f"{row.codes_compiled:,}",
            _loaded(row.codes_loaded, row.load_seconds),
            "yes" if row.mismatches == 0 else f"[red]{row.mismatches} differ[/red]",
        )
    console.print(table)
    console.print(
        "Seconds: process = start to exit; stream = the blocks (wall), CPU = this "
        "process's CPU over them, compiler CPU = its compiler processes'; EVM = message "
        "execution within the stream.  x: stock py-evm's median over the "
        "configuration's (above 1: faster).  compiled: codes compiled in the run; "
        "loaded: codes loaded from the persistent code cache instead.  "
        + "; ".join(f"{row.configuration}: {row.label}" for row in rows),
        style="dim",
    )
    breakdown = contract_breakdown(report)
    if breakdown:
        names = list(breakdown[0]["evm_seconds"])
        top = Table(title="where stock py-evm's EVM time goes: top contracts (EVM seconds)")
        top.add_column("contract")
        top.add_column("txs", justify="right")
        for name in names:
            top.add_column(name, justify="right")
        for item in breakdown:
            top.add_row(
                str(item["contract"])[:40],
                str(item["transactions"]),
                *(f"{item['evm_seconds'][name]:.2f}" for name in names),
            )
        console.print(top)
    for name, reason in report.unavailable.items():
        console.print(f"{name}: not run, {reason}", style="yellow")
    for target, met in targets(rows).items():
        verdict = "not run" if met is None else ("met" if met else "[red]NOT met[/red]")
        console.print(f"target: {target}: {verdict}")
    for mismatch in report.mismatches[:10]:
        console.print(f"[red]DISAGREEMENT[/red] {mismatch.configuration}: {mismatch.what}")
    if len(report.mismatches) > 10:
        console.print(f"... and {len(report.mismatches) - 10} more")


def workload(
    fixtures: FixturesOption = None,
    contracts: Annotated[
        int,
        typer.Option(min=1, help="Distinct contracts (bench ones first, then state tests)."),
    ] = DEFAULT_CONTRACTS,
    transactions: Annotated[int, typer.Option(min=1, help="Transactions in the stream.")] = (
        DEFAULT_TRANSACTIONS
    ),
    seed: Annotated[int, typer.Option(help="Seed of the contract choice and the stream.")] = 1,
    zipf: Annotated[
        float, typer.Option(min=0.0, help="Zipf exponent: rank k is drawn with weight 1/k^s.")
    ] = DEFAULT_ZIPF,
    max_tx_gas: Annotated[
        int, typer.Option(min=60_000, help="Gas limit cap of a transaction.")
    ] = DEFAULT_MAX_TX_GAS,
    config: Annotated[
        str,
        typer.Option(
            "--config",
            "-c",
            help="Configurations, comma-separated (stock py-evm always runs): "
            + ", ".join(CONFIGURATIONS),
        ),
    ] = ",".join(DEFAULT_CONFIGURATIONS),
    repeat: Annotated[
        int, typer.Option(min=1, help="Runs per configuration (round-robin; medians reported).")
    ] = 1,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            envvar="EVMKILN_CACHE_DIR",
            help="Persistent code cache directory of the warm-cache configuration.",
            file_okay=False,
        ),
    ] = None,
    json_out: Annotated[
        Path | None, json_option("Write the summary and every run as JSON.")
    ] = None,
) -> None:
    """Run a stream of transactions over many contracts on stock py-evm and evmkiln, each cold."""
    names = [name.strip() for name in config.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONFIGURATIONS]
    if unknown:
        raise typer.BadParameter(
            f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGURATIONS)}",
            param_hint="--config",
        )
    root = require_fixtures_dir(fixtures, Path("bench"), "fixtures").parent
    console = Console()
    spec = build_spec(
        root,
        contracts=contracts,
        transactions=transactions,
        seed=seed,
        zipf=zipf,
        max_tx_gas=max_tx_gas,
    )
    if len(spec.contracts) < contracts:
        console.print(f"only {len(spec.contracts)} contracts found", style="yellow")

    def progress(run: Run) -> None:
        what = "fill" if run.round < 0 else f"round {run.round + 1}"
        state = "ok" if run.ok else f"failed: {run.error}"
        console.print(
            f"{run.configuration} ({what}): {run.process_seconds:.1f} s, {state}", style="dim"
        )

    report = run_workload(spec, names, repeat=repeat, cache_dir=cache_dir, on_run=progress)
    _print_report(console, report)
    if json_out is not None:
        command = "evmkiln workload " + shlex.join(sys.argv[2:])
        write_output(json_out, json.dumps(report_json(report, command), indent=2))
    if report.mismatches:
        raise typer.Exit(1)
