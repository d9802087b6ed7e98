"""Rendering a fuzzing run for people: what was covered, how fast, and what failed."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from evmkiln.codegen.evm.opcodes import OPCODES
from evmkiln.fuzz.campaign import CampaignResult, EngineTotals, Finding
from evmkiln.fuzz.coverage import DEFINED
from evmkiln.fuzz.replay import ReplayResult

_DETAIL_WIDTH = 160


def _counts(counter: Counter[str], limit: int = 12) -> str:
    items = counter.most_common()
    text = ", ".join(f"{name} {count}" for name, count in items[:limit])
    more = len(items) - limit
    return text + (f", ... {more} more" if more > 0 else "")


def _missing(seen: set[int]) -> str:
    missing = sorted(DEFINED - seen)
    if not missing:
        return ""
    names = [OPCODES[op].name for op in missing[:10]]
    more = len(missing) - len(names)
    return " (not: " + ", ".join(names) + (f", +{more}" if more > 0 else "") + ")"


def _nonzero(count: int, style: str = "red") -> str:
    return f"[{style}]{count}[/{style}]" if count else "0"


def overview_table(result: CampaignResult) -> Table:
    config, stats = result.config, result.stats
    table = Table(title=f"evmkiln fuzz: seed {config.seed}, against {config.reference}")
    table.add_column("")
    table.add_column("")
    table.add_row("programs", f"{stats.programs} (from index {config.start})")
    table.add_row("families", _counts(stats.families, limit=20))
    if stats.executed:
        executed = len(stats.executed & DEFINED)
        table.add_row(
            "opcodes executed",
            f"{executed} of {len(DEFINED)} defined{_missing(stats.executed)}, "
            f"{len(stats.executed - DEFINED)} undefined",
        )
    present = len(stats.present & DEFINED)
    table.add_row(
        "opcodes present",
        f"{present} of {len(DEFINED)} defined, {len(stats.present - DEFINED)} undefined",
    )
    table.add_row("transactions ended", _counts(stats.outcomes))
    if stats.halts:
        table.add_row("frame halts", _counts(stats.halts))
    rate = stats.programs / stats.wall_seconds if stats.wall_seconds > 0 else 0.0
    table.add_row(
        "throughput",
        f"{rate:.1f} programs/s ({stats.programs} in {stats.wall_seconds:.1f} s, "
        f"{config.jobs} jobs)",
    )
    if stats.invalid:
        table.add_row("not compared", f"{stats.invalid} (the reference raised)")
    if stats.worker_errors:
        table.add_row("worker errors", _nonzero(len(stats.worker_errors)))
    if stats.unkept:
        table.add_row(
            "findings not kept",
            f"[red]{stats.unkept}[/red] (only the {config.max_findings} of the lowest "
            "program indices are shrunk and written)",
        )
    return table


def _engine_row(name: str, totals: EngineTotals) -> list[str]:
    per_program = 1000 * totals.seconds / totals.runs if totals.runs else 0.0
    return [
        name,
        str(totals.runs),
        _nonzero(totals.mismatches),
        _nonzero(totals.errors, "magenta"),
        _nonzero(totals.crashes, "red"),
        _nonzero(totals.timeouts, "yellow"),
        f"{per_program:.1f}",
        f"{1000 / per_program:.1f}" if per_program else "-",
    ]


def engines_table(result: CampaignResult) -> Table:
    table = Table(title="per engine (time: one core's, per program)")
    table.add_column("engine")
    for header in ("runs", "mismatch", "error", "crash", "timeout", "ms", "prog/s"):
        table.add_column(header, justify="right")
    table.add_row(*_engine_row(f"{result.config.reference} (ref)", result.stats.reference))
    for name, totals in result.stats.engines.items():
        table.add_row(*_engine_row(name, totals))
    return table


def _finding_line(finding: Finding) -> str:
    size = f"{finding.original_size} -> {finding.program.size()}" if finding.shrunk else "unshrunk"
    detail = (
        finding.detail if len(finding.detail) <= _DETAIL_WIDTH else finding.detail[:160] + "..."
    )
    return (
        f"{finding.kind.value} on {finding.backend}, program {finding.index} "
        f"({finding.program.family}, size {size}): {detail}\n    {finding.path}"
    )


def print_summary(result: CampaignResult, console: Console) -> None:
    console.print(overview_table(result))
    console.print(engines_table(result))
    for error in result.stats.worker_errors[:10]:
        console.print(f"[magenta]worker error[/magenta] {error}", highlight=False)
    for finding in result.findings:
        console.print(f"[red]FOUND[/red] {_finding_line(finding)}", highlight=False)
    if result.failed:
        count = len(result.findings) + result.stats.unkept
        console.print(
            f"[red]{count} finding(s)[/red]; replay one with `evmkiln fuzz --replay FILE`",
            highlight=False,
        )
    else:
        console.print("[green]no mismatches, no crashes[/green]")


def print_replay(path: str, result: ReplayResult, console: Console) -> None:
    style = "green" if result.matched else "red"
    console.print(
        f"{path}: [{style}]{result.verdict.upper()}[/{style}] "
        f"({result.backend} against {result.reference})"
        + (f": {result.detail}" if result.detail else ""),
        highlight=False,
    )
    if result.expected is None or result.actual is None:
        return
    table = Table()
    table.add_column("field")
    table.add_column(result.reference)
    table.add_column(result.backend)
    for name in result.expected.differences(result.actual):
        table.add_row(
            name, _show(getattr(result.expected, name)), _show(getattr(result.actual, name))
        )
    table.add_row("halt (py-evm class)", result.expected.detail or "-", result.actual.detail or "-")
    console.print(table)


def _show(value: object) -> str:
    text = "0x" + value.hex() if isinstance(value, bytes) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
