"""The results as a rich table (one row per fixture and engine) and as JSON.

Ratios are ``median(py-evm) / median(X)`` and ``median(revm) / median(X)``:
above 1, X is that many times faster; below 1, slower.  Compile time is what
the evmkiln backend spent compiling the fixture's contracts in the warm-up
run (lowering to IR plus the backend's compile; for ``llvm`` the latter is
the JIT compile); it is never part of the median.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from evmkiln.bench.compile_timing import CompileLog
from evmkiln.bench.engines import PYEVM, REVM
from evmkiln.bench.execution_clock import EXECUTION
from evmkiln.bench.measure import ERROR, OK, Measurement, Settings
from evmkiln.bench.session import FixtureResult, ratio

SCHEMA = "evmkiln-bench/1"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.2g}×"


def _is_backend(name: str) -> bool:
    return name not in (PYEVM, REVM)


def results_table(results: list[FixtureResult], timing: str = EXECUTION) -> Table:
    what = "message execution" if timing == EXECUTION else "whole transaction"
    table = Table(title=f"median time per run ({what})", show_lines=False)
    for header, justify in (
        ("fixture", "left"),
        ("engine", "left"),
        ("median", "right"),
        ("runs", "right"),
        ("py-evm / X", "right"),
        ("revm / X", "right"),
        ("compile", "right"),
        ("gas used", "right"),
        ("status", "left"),
        ("notes", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for result in results:
        disagreeing = {d.engine for d in result.disagreements}
        names = list(result.measurements)
        for index, name in enumerate(names):
            m = result.measurements[name]
            table.add_row(
                _fixture_label(result) if index == 0 else "",
                name,
                format_seconds(m.median),
                str(len(m.samples)) if m.samples else "-",
                format_ratio(ratio(result, PYEVM, name)) if _is_backend(name) else "",
                format_ratio(ratio(result, REVM, name)) if _is_backend(name) else "",
                format_seconds(m.compile_log.total_seconds) if m.compile_log else "",
                str(m.observation.gas_used) if m.observation and m.state == OK else "",
                _status_cell(m, name in disagreeing),
                _notes_cell(m),
                end_section=index == len(names) - 1,
            )
    return table


def _fixture_label(result: FixtureResult) -> str:
    params = ", ".join(f"{k}={v:,}" for k, v in result.case.parameters.items())
    return f"{result.case.name} ({params})" if params else result.case.name


def _status_cell(m: Measurement, disagrees: bool) -> Text:
    if m.state != OK:
        return Text(m.state.upper(), style="bold red" if m.state == ERROR else "yellow")
    status = m.observation.status if m.observation else "-"
    if disagrees or m.inconsistent:
        return Text(f"{status} DISAGREES", style="bold white on red")
    return Text(status, style="green")


def _notes_cell(m: Measurement) -> Text:
    parts = ([m.reason] if m.reason else []) + m.notes
    if m.inconsistent:
        parts.append(f"not deterministic: {m.inconsistent}")
    style = "red" if m.state == ERROR or m.inconsistent else "yellow" if parts else ""
    return Text("; ".join(parts), style=style)


MIN_KIB_FOR_SPREAD = 1.0
"""Contracts smaller than this are left out of the per-KiB spread: fixed costs
(a process round trip, loading the code) dominate their compile time."""


def per_kib(seconds: float, code_size: int) -> float:
    """Compile seconds per KiB of bytecode."""
    return seconds / (max(code_size, 1) / 1024)


def compile_spread(results: list[FixtureResult]) -> dict[str, tuple[float, float]]:
    """Per backend: (fastest, slowest) lowering-plus-compile seconds per KiB.

    Over the contracts of at least :data:`MIN_KIB_FOR_SPREAD` that compiled,
    each once (a contract in several fixtures counts once).
    """
    seen: dict[str, dict[str, float]] = {}
    for result in results:
        for name, m in result.measurements.items():
            if m.compile_log is None:
                continue
            for c in m.compile_log.contracts:
                if c.compile_seconds is None or c.code_size < MIN_KIB_FOR_SPREAD * 1024:
                    continue
                rate = per_kib(c.lower_seconds + c.compile_seconds, c.code_size)
                seen.setdefault(name, {})[c.function] = rate
    return {name: (min(r.values()), max(r.values())) for name, r in seen.items() if r}


def compile_table(results: list[FixtureResult]) -> Table | None:
    """Per-contract compile times of every evmkiln backend (lowering, then backend compile).

    With the time per KiB of code, and the spread of that figure per backend
    (slowest over fastest) in the caption: compile time should grow with
    code size and nothing else.
    """
    samples = max(
        (
            c.samples
            for r in results
            for m in r.measurements.values()
            if m.compile_log
            for c in m.compile_log.contracts
        ),
        default=1,
    )
    title = "first run" if samples == 1 else f"median of {samples} fresh compiles"
    table = Table(title=f"compile time per contract ({title})")
    headers = ("fixture", "backend", "contract", "code", "lower", "backend compile", "per KiB")
    for header in headers:
        table.add_column(header, justify="left" if header in ("fixture", "backend") else "right")
    rows = 0
    for result in results:
        for name, m in result.measurements.items():
            if m.compile_log is None:
                continue
            for contract in m.compile_log.contracts:
                compiled = contract.compile_seconds
                total = None if compiled is None else contract.lower_seconds + compiled
                table.add_row(
                    result.case.name,
                    name,
                    contract.function,
                    f"{contract.code_size} B",
                    format_seconds(contract.lower_seconds),
                    format_seconds(compiled) if compiled is not None else "failed",
                    "" if total is None else format_seconds(per_kib(total, contract.code_size)),
                )
                rows += 1
    spread = compile_spread(results)
    if spread:
        table.caption = "per KiB, contracts of 1 KiB or more, slowest / fastest: " + ", ".join(
            f"{name} {slow / fast:.1f}x ({format_seconds(fast)} to {format_seconds(slow)})"
            for name, (fast, slow) in spread.items()
        )
    return table if rows else None


AOT_LOAD_TARGET = 1e-3
"""Seconds an artifact load should stay under: far below any contract's compile."""


def aot_table(results: list[FixtureResult]) -> Table | None:
    """Per-contract artifact load times (``--artifacts``), and frames run from artifacts."""
    table = Table(
        title="artifacts: load time per contract (first run), frames run from them",
        caption="The first load of a process also pays the backend's one-time checks "
        "(for llvm: hashing the compiler's sources).",
    )
    for header in ("fixture", "backend", "contract", "load", "frames from artifacts"):
        table.add_column(header, justify="left" if header in ("fixture", "backend") else "right")
    rows = 0
    for result in results:
        for name, m in result.measurements.items():
            log = m.compile_log
            if log is None or log.dispatch is None:
                continue
            stats = log.dispatch
            frames = f"{stats.frames_run_aot} of {stats.frames_run_compiled}"
            for index, load in enumerate(log.loads or [None]):
                slow = load is not None and load.seconds >= AOT_LOAD_TARGET
                table.add_row(
                    result.case.name if index == 0 else "",
                    name if index == 0 else "",
                    "-" if load is None else "0x" + load.code_hash.hex()[:16],
                    Text(
                        "-" if load is None else format_seconds(load.seconds),
                        style="red" if slow else "",
                    ),
                    frames if index == 0 else "",
                )
                rows += 1
    return table if rows else None


def _aot_json(log: CompileLog | None) -> dict[str, Any] | None:
    if log is None or log.dispatch is None:
        return None
    return {
        "frames_run_aot": log.dispatch.frames_run_aot,
        "frames_run_compiled": log.dispatch.frames_run_compiled,
        "loads": [
            {"code_hash": "0x" + load.code_hash.hex(), "seconds": load.seconds}
            for load in log.loads
        ],
    }


def _measurement_json(result: FixtureResult, name: str, m: Measurement) -> dict[str, Any]:
    o = m.observation
    log = m.compile_log
    return {
        "state": m.state,
        "reason": m.reason,
        "median_seconds": m.median,
        "samples_seconds": m.samples,
        "first_run_seconds": m.first_run_seconds,
        "pyevm_over_this": ratio(result, PYEVM, name),
        "revm_over_this": ratio(result, REVM, name),
        "result": None
        if o is None
        else {
            "status": o.status,
            "gas_used": o.gas_used,
            "output": "0x" + o.output.hex(),
            "logs": None if o.logs is None else len(o.logs),
            "state_root": None if o.state_root is None else "0x" + o.state_root.hex(),
        },
        "compile": None
        if log is None
        else {
            "lower_seconds": log.lower_seconds,
            "backend_seconds": log.compile_seconds,
            "total_seconds": log.total_seconds,
            "contracts": [
                {
                    "function": c.function,
                    "code_size": c.code_size,
                    "lower_seconds": c.lower_seconds,
                    "backend_seconds": c.compile_seconds,
                    "samples": c.samples,
                }
                for c in log.contracts
            ],
        },
        "aot": _aot_json(log),
        "notes": m.notes,
        "inconsistent": m.inconsistent,
    }


def results_json(
    results: list[FixtureResult],
    settings: Settings,
    *,
    machine: dict[str, object],
    command: str,
    date: str,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "date": date,
        "command": command,
        "machine": machine,
        "settings": {
            "repeat": settings.repeat,
            "warmup": settings.warmup,
            "warmup_seconds": settings.warmup_time,
            "min_time": settings.min_time,
            "budget_seconds": settings.budget,
            "skip_slow": settings.skip_slow,
            "slow_gas": settings.slow_gas,
            "timing": settings.timing,
            "fork": results[0].case.fork if results else None,
        },
        "agree": all(r.agree() for r in results),
        "compile_seconds_per_kib": {
            name: {"fastest": fast, "slowest": slow, "spread": slow / fast}
            for name, (fast, slow) in compile_spread(results).items()
        },
        "fixtures": [
            {
                "name": r.case.name,
                "path": str(r.case.path),
                "parameters": r.case.parameters,
                "agree": r.agree(),
                "disagreements": [
                    {
                        "engine": d.engine,
                        "reference": d.reference,
                        "field": d.field,
                        "expected": d.expected,
                        "actual": d.actual,
                    }
                    for d in r.disagreements
                ],
                "engines": {
                    name: _measurement_json(r, name, m) for name, m in r.measurements.items()
                },
            }
            for r in results
        ],
    }
