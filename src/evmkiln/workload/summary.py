"""Medians per configuration, ratios to stock py-evm, and the issue's targets.

Targets (issue 11): the default policy is never slower than stock py-evm on
the cold run (``tiered`` stream time <= ``pyevm``'s), and at least 3x faster
with a warm persistent cache (``warm-cache``).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from evmkiln.workload.configurations import CONFIGURATIONS, REFERENCE
from evmkiln.workload.driver import WorkloadReport

WARM_CACHE_TARGET = 3.0


@dataclass(frozen=True, slots=True)
class ConfigurationSummary:
    configuration: str
    label: str
    runs: int
    process_seconds: float
    setup_seconds: float
    stream_seconds: float
    stream_cpu_seconds: float
    """CPU time of the process over the stream (all its threads)."""
    compiler_cpu_seconds: float
    """CPU time of its compiler processes (those ended by the end of the run)."""
    evm_seconds: float
    stream_speedup: float
    """Stock py-evm's stream time over this one's (above 1: faster than py-evm)."""
    evm_speedup: float
    codes_compiled: int | None
    compile_seconds: float | None
    """Blocking: compiles in the caller's thread; tiered: compiler processes' phases."""
    frames_compiled: int | None
    frames_interpreted: int | None
    mismatches: int
    codes_loaded: int | None = None
    """Codes loaded from the persistent code cache instead of compiled."""
    load_seconds: float | None = None
    """Time spent loading them."""


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _compile_seconds(counters: dict[str, Any]) -> float | None:
    if "compile_seconds" in counters:
        return float(counters["compile_seconds"])
    runtime = counters.get("runtime")
    if runtime:
        phases = runtime.get("phase_seconds", {})
        return float(sum(v for k, v in phases.items() if k != "total"))
    return None


def summarize(report: WorkloadReport) -> list[ConfigurationSummary]:
    """One row per configuration that ran (fill runs left out), stock py-evm first."""
    names: list[str] = []
    for run in report.runs:
        if run.round >= 0 and run.configuration not in names:
            names.append(run.configuration)
    medians: dict[str, tuple[float, float, float, float, float, float]] = {}
    rows = []
    for name in names:
        runs = [r for r in report.runs if r.configuration == name and r.round >= 0 and r.result]
        results = [r.result for r in runs if r.result is not None]
        medians[name] = (
            _median([r.process_seconds for r in runs]),
            _median([float(r["setup_seconds"]) for r in results]),
            _median([float(r["stream_seconds"]) for r in results]),
            _median([float(r["evm_seconds"]) for r in results]),
            _median([float(r.get("stream_cpu_seconds", "nan")) for r in results]),
            _median([float(r.get("compiler_cpu_seconds", "nan")) for r in results]),
        )
    ref = medians.get(REFERENCE, (float("nan"),) * 6)
    for name in names:
        process, setup, stream, evm, stream_cpu, compiler_cpu = medians[name]
        last = next(
            (r.result for r in reversed(report.runs) if r.configuration == name and r.result),
            None,
        )
        counters: dict[str, Any] = {} if last is None else last.get("counters", {})
        rows.append(
            ConfigurationSummary(
                configuration=name,
                label=CONFIGURATIONS[name].label,
                runs=sum(
                    1 for r in report.runs if r.configuration == name and r.round >= 0 and r.ok
                ),
                process_seconds=process,
                setup_seconds=setup,
                stream_seconds=stream,
                stream_cpu_seconds=stream_cpu,
                compiler_cpu_seconds=compiler_cpu,
                evm_seconds=evm,
                stream_speedup=ref[2] / stream if stream else float("nan"),
                evm_speedup=ref[3] / evm if evm else float("nan"),
                codes_compiled=counters.get("codes_compiled"),
                compile_seconds=_compile_seconds(counters),
                frames_compiled=counters.get("frames_run_compiled"),
                frames_interpreted=counters.get("frames_interpreted"),
                mismatches=sum(1 for m in report.mismatches if m.configuration == name),
                codes_loaded=counters.get("cache_loaded"),
                load_seconds=counters.get("cache_load_seconds"),
            )
        )
    return rows


def contract_breakdown(report: WorkloadReport, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` contracts by stock py-evm's EVM time, with seconds per configuration.

    Where the time of a workload goes decides what can speed it up: a
    contract whose time is py-evm's precompiles or bookkeeping gains nothing
    from compiling.  Seconds are the first timed run's of each configuration.
    """
    spec = report.spec
    firsts: dict[str, list[float]] = {}
    for run in report.runs:
        if run.round == 0 and run.result and run.configuration not in firsts:
            each = run.result.get("evm_seconds_each")
            if isinstance(each, list) and len(each) == len(spec.transactions):
                firsts[run.configuration] = [float(x) for x in each]
    if REFERENCE not in firsts:
        return []
    per: dict[str, list[float]] = {name: [0.0] * len(spec.contracts) for name in firsts}
    calls = [0] * len(spec.contracts)
    for position, (index, _) in enumerate(spec.transactions):
        calls[index] += 1
        for name, each in firsts.items():
            per[name][index] += each[position]
    reference = per[REFERENCE]
    order = sorted(range(len(spec.contracts)), key=lambda i: -reference[i])[:top]
    return [
        {
            "contract": spec.contracts[i].name,
            "source": spec.contracts[i].source,
            "code_size": spec.contracts[i].code_size,
            "transactions": calls[i],
            "evm_seconds": {name: per[name][i] for name in per},
        }
        for i in order
    ]


def targets(rows: list[ConfigurationSummary]) -> dict[str, bool | None]:
    """Whether each of the issue's targets is met (``None``: its configuration did not run)."""
    by_name = {row.configuration: row for row in rows}
    tiered = by_name.get("tiered")
    warm = by_name.get("warm-cache")
    return {
        "default policy not slower than stock py-evm (stream)": (
            None if tiered is None else tiered.stream_speedup >= 1.0
        ),
        f"warm cache at least {WARM_CACHE_TARGET:g}x faster than stock py-evm (stream)": (
            None if warm is None else warm.stream_speedup >= WARM_CACHE_TARGET
        ),
    }


def report_json(report: WorkloadReport, command: str) -> dict[str, Any]:
    """The ``--json`` document (``schema: evmkiln-workload/1``)."""
    from evmkiln.bench.machine import machine_info

    spec = report.spec
    counts = spec.calls_per_contract()
    rows = summarize(report)
    return {
        "schema": "evmkiln-workload/1",
        "command": command,
        "machine": machine_info(),
        "workload": {
            **spec.description,
            "contracts": len(spec.contracts),
            "transactions": len(spec.transactions),
            "blocks": len(spec.blocks),
            "seed": spec.seed,
            "zipf": spec.zipf,
            "calls_per_contract": counts,
            "contract_names": [c.name for c in spec.contracts],
        },
        "summary": [asdict(row) for row in rows],
        "targets": targets(rows),
        "top_contracts": contract_breakdown(report, top=25),
        "unavailable": report.unavailable,
        "mismatches": [asdict(m) for m in report.mismatches],
        "runs": [
            {
                "configuration": run.configuration,
                "round": run.round,
                "process_seconds": run.process_seconds,
                "error": run.error,
                **(
                    {}
                    if run.result is None
                    else {
                        k: v
                        for k, v in run.result.items()
                        if k not in ("outcomes", "state_roots", "schema", "evm_seconds_each")
                    }
                ),
            }
            for run in report.runs
        ],
    }
