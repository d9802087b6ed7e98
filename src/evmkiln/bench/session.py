"""Running every selected engine on every fixture, in one process.

Engines run in a fixed order per fixture: revm first (fast, and its gas used
tells ``--skip-slow`` how heavy the fixture is), then py-evm, then the evmkiln
backends.  The results of a fixture are checked for agreement as soon as its
engines are done, so a disagreement is reported even if a later fixture fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evmkiln.bench.agreement import Disagreement, check_agreement
from evmkiln.bench.case import BENCH_FORK, BenchCase
from evmkiln.bench.engines import (
    PYEVM,
    PYEVM_FLAT,
    REVM,
    Engine,
    KilnEngine,
    PyEvmEngine,
    RevmEngine,
)
from evmkiln.bench.execution_clock import EXECUTION
from evmkiln.bench.measure import OK, Measurement, Settings, measure, skipped
from evmkiln.bench.observation import Observation
from evmkiln.statetest.backends import ArtifactsSetting

INTERPRETER_ENGINES = frozenset({PYEVM, PYEVM_FLAT, "ir"})
"""Engines executing in Python, hence the ones ``--skip-slow`` leaves out of heavy fixtures."""


@dataclass(slots=True)
class FixtureResult:
    case: BenchCase
    measurements: dict[str, Measurement] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)

    def agree(self) -> bool:
        inconsistent = any(m.inconsistent for m in self.measurements.values())
        return not self.disagreements and not inconsistent


def make_engines(
    backends: list[str],
    with_pyevm: bool = True,
    with_revm: bool = True,
    timing: str = EXECUTION,
    artifacts: ArtifactsSetting | None = None,
    compile_samples: int = 1,
    runtime: Any = None,
) -> list[Engine]:
    engines: list[Engine] = []
    if with_revm:
        engines.append(RevmEngine(timing))
    if with_pyevm:
        engines.append(PyEvmEngine(timing))
    for name in backends:
        if name == PYEVM_FLAT:
            engines.append(PyEvmEngine(timing, flat=True))
        else:
            engines.append(KilnEngine(name, timing, artifacts, compile_samples, runtime))
    return engines


def _heaviness(measurements: dict[str, Measurement]) -> int | None:
    for measurement in measurements.values():
        if measurement.observation is not None:
            return measurement.observation.gas_used
    return None


def run_fixture(
    case: BenchCase,
    engines: list[Engine],
    settings: Settings,
    on_run: Callable[[], None] | None = None,
    on_engine: Callable[[str], None] | None = None,
    describe_error: Callable[[BaseException], str] = repr,
) -> FixtureResult:
    """Measure each engine on ``case`` and check that their results agree."""
    result = FixtureResult(case)
    for engine in engines:
        if on_engine:
            on_engine(engine.name)
        gas = _heaviness(result.measurements)
        if (
            settings.skip_slow
            and engine.name in INTERPRETER_ENGINES
            and gas is not None
            and gas > settings.slow_gas
        ):
            result.measurements[engine.name] = skipped(
                engine.name,
                f"--skip-slow: {gas / 1e6:.0f} Mgas > {settings.slow_gas / 1e6:.0f} Mgas "
                "on an interpreter",
            )
            continue
        try:
            runner = engine.prepare(case)
        except Exception as exc:
            measurement = Measurement(engine.name, "error", describe_error(exc))
        else:
            measurement = measure(engine.name, runner, settings, on_run, describe_error)
        result.measurements[engine.name] = measurement
    observations: dict[str, Observation] = {
        name: m.observation
        for name, m in result.measurements.items()
        if m.state == OK and m.observation is not None
    }
    revm = result.measurements.get(REVM)
    if case.fork != BENCH_FORK and revm is not None and revm.state == OK:
        # pyrevm's revm (8.0) predates Prague's and Osaka's final rules: it runs the
        # transaction on Cancun's, so its results agree by construction only there.
        observations.pop(REVM, None)
        revm.notes.append(f"{REVM_NOT_COMPARED} {case.fork}")
    result.disagreements = check_agreement(case.name, observations)
    return result


REVM_NOT_COMPARED = "timed on Cancun's rules (pyrevm's revm 8.0), not compared on"


def ratio(result: FixtureResult, numerator: str, engine: str) -> float | None:
    """``median(numerator) / median(engine)``: how many times faster ``engine`` is."""
    top = result.measurements.get(numerator)
    bottom = result.measurements.get(engine)
    if top is None or bottom is None or top.median is None or not bottom.median:
        return None
    return top.median / bottom.median


__all__ = ["PYEVM", "REVM", "FixtureResult", "make_engines", "ratio", "run_fixture"]
