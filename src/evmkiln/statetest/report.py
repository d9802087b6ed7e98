"""Rendering a run for people: per-directory table, totals and the failing cases."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from evmkiln.statetest.results import CaseResult, Status
from evmkiln.statetest.runner import RunReport

_REASON_WIDTH = 240


@dataclass
class _Row:
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = 0
    timeout: int = 0
    seconds: float = 0.0

    def add(self, result: CaseResult) -> None:
        self.cases += 1
        self.seconds += result.duration
        if result.status is Status.PASSED:
            self.passed += 1
        elif result.status is Status.FAILED:
            self.failed += 1
        elif result.status is Status.ERRORED:
            self.errored += 1
        else:
            self.timeout += 1

    def cells(self) -> list[str]:
        return [
            str(self.cases),
            str(self.passed),
            _nonzero(self.failed, "red"),
            _nonzero(self.errored, "magenta"),
            _nonzero(self.timeout, "yellow"),
            f"{self.seconds:.1f}",
        ]


def _nonzero(count: int, style: str) -> str:
    return f"[{style}]{count}[/{style}]" if count else "0"


def directory_of(result: CaseResult) -> str:
    head, sep, _ = result.path.rpartition("/")
    return head if sep else "."


def summary_table(report: RunReport) -> Table:
    """Passed / failed / errored / timed-out counts and CPU time per directory."""
    rows: dict[str, _Row] = defaultdict(_Row)
    total = _Row()
    for result in report.results:
        rows[directory_of(result)].add(result)
        total.add(result)
    table = Table(
        title=f"State tests: fork {report.fork}, backend {report.backend}", show_footer=False
    )
    table.add_column("directory")
    for name in ("cases", "passed", "failed", "errored", "timeout", "time (s)"):
        table.add_column(name, justify="right")
    for directory in sorted(rows):
        table.add_row(directory, *rows[directory].cells())
    table.add_section()
    table.add_row("[bold]total[/bold]", *total.cells())
    return table


def _clip(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) <= _REASON_WIDTH:
        return one_line
    return one_line[: _REASON_WIDTH - 3] + "..."


def print_report(report: RunReport, console: Console) -> None:
    """The summary table, totals, and every failing case with its reason."""
    console.print(summary_table(report))
    failures = report.failures
    if failures:
        console.print()
        console.print(f"[bold]Failing cases ({len(failures)}):[/bold]")
        for result in failures:
            mark = " (expected)" if report.is_expected(result) else ""
            console.print(
                f"  {result.status.value.upper():8} {result.case_id}{mark}\n"
                f"           {_clip(result.reason)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    passing = report.unexpected_passes
    if passing:
        console.print()
        console.print(f"[bold]Listed as expected failures but passed ({len(passing)}):[/bold]")
        for result in passing:
            console.print(f"  {result.case_id}", markup=False, highlight=False, soft_wrap=True)
    summary = report.summary()
    console.print()
    if report.aot is not None:
        aot = report.aot
        console.print(
            f"Ahead of time: {aot['contracts']} contracts, {aot['reused']} already compiled, "
            f"{aot['compiled']} compiled ({aot['replaced']} replacing refused artifacts), "
            f"{aot['failed']} failed "
            f"in {aot['compile_seconds']:.1f} s",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    frames = report.frames
    if frames is not None:
        console.print(
            f"Frames: {frames.aot} ran from artifacts ({frames.artifacts_loaded} loaded), "
            f"{frames.jit} on code JIT-compiled at run time ({frames.jit_codes} codes), "
            f"{frames.interpreted} interpreted (precompiles, code that did not compile), "
            f"{frames.without_code} without code",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{report.fork}: {summary['cases']} cases in {summary['files']} files: "
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errored']} errored, {summary['timeout']} timed out "
        f"in {report.wall_time:.1f} s wall time; "
        f"{summary['unexpected_failures']} unexpected failure(s)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
