"""Warm-up, timed repeats and the median, for one engine on one fixture.

The first run is a warm-up: it is where evmkiln compiles each contract (timed
apart, see :mod:`evmkiln.bench.compile_timing`) and where the result compared
across engines comes from.  Then at least ``repeat`` timed runs, continuing
until their sum reaches ``min_time``; the median of those is the figure
reported.  A run that would not fit in the remaining budget is not started; an
engine whose warm-up alone overruns the budget is reported as skipped.  Compile
time does not count against the budget.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from evmkiln.bench.budget import BudgetExceeded, deadline
from evmkiln.bench.compile_timing import CompileLog
from evmkiln.bench.engines import EngineUnsupported, Runner
from evmkiln.bench.execution_clock import EXECUTION
from evmkiln.bench.observation import Observation

OK = "ok"
SKIPPED = "skipped"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Settings:
    repeat: int = 5
    warmup: int = 1
    warmup_time: float = 0.0
    """Keep warming up until the warm-up runs' wall time (set-up included, compiling
    not) adds up to this many seconds.  A small fixture's runs keep getting faster
    for a few dozen runs while Python specialises the code they go through; a
    time, unlike a count, gives those many runs and a long fixture few."""
    min_time: float = 0.0
    """Keep repeating until the timed runs add up to this many seconds."""
    budget: float | None = 120.0
    """Wall seconds per engine and fixture, setup and warm-up included but compiling
    excluded (it is reported apart); ``None``: unlimited."""
    skip_slow: bool = False
    slow_gas: int = 50_000_000
    """With ``skip_slow``: interpreter engines skip fixtures using more gas than this."""
    timing: str = EXECUTION
    """What a sample times: the message's ``execution``, or the whole ``transaction``
    (see :mod:`evmkiln.bench.execution_clock`)."""


@dataclass(slots=True)
class Measurement:
    engine: str
    state: str = OK
    reason: str | None = None
    """Why the engine was skipped or failed."""
    samples: list[float] = field(default_factory=list)
    first_run_seconds: float | None = None
    observation: Observation | None = None
    compile_log: CompileLog | None = None
    notes: list[str] = field(default_factory=list)
    inconsistent: str | None = None
    """Set when a repeat did something different from the first run."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


def skipped(engine: str, reason: str) -> Measurement:
    return Measurement(engine, SKIPPED, reason)


def _same(a: Observation, b: Observation) -> bool:
    return (a.outcome, a.gas_used, a.output, a.state_root) == (
        b.outcome,
        b.gas_used,
        b.output,
        b.state_root,
    )


def measure(
    engine: str,
    runner: Runner,
    settings: Settings,
    on_run: Callable[[], None] | None = None,
    describe_error: Callable[[BaseException], str] = repr,
) -> Measurement:
    """Run ``runner`` per ``settings``; exceptions become an ``error`` measurement."""
    result = Measurement(engine, compile_log=runner.compile_log)
    budget = settings.budget
    started = time.perf_counter()

    def compiling() -> float:
        log = runner.compile_log
        return 0.0 if log is None else log.seconds_so_far()

    def remaining() -> float | None:
        if budget is None:
            return None
        return budget + compiling() - (time.perf_counter() - started)

    try:
        with deadline(budget, compiling):
            warmed, warm_seconds = 0, 0.0
            while warmed < max(settings.warmup, 1) or warm_seconds < settings.warmup_time:
                compiled_before, run_started = compiling(), time.perf_counter()
                observation, seconds = runner.run()
                warmed += 1
                # This run's wall time, less what it spent compiling.
                warm_seconds += max(
                    time.perf_counter() - run_started - (compiling() - compiled_before), 0.0
                )
                if result.observation is None:
                    result.observation, result.first_run_seconds = observation, seconds
                if on_run:
                    on_run()
            # A JIT that optimises hot code in the background is timed once it has:
            # the steady state a long-running process reaches.
            runner.settle()
            # The expected length of a repeat: the last warm-up without its compiling.
            last = max(seconds - (compiling() - compiled_before), 0.0)
            while len(result.samples) < settings.repeat or sum(result.samples) < settings.min_time:
                left = remaining()
                if left is not None and left < last:
                    break
                observation, last = runner.run()
                result.samples.append(last)
                assert result.observation is not None
                if result.inconsistent is None and not _same(observation, result.observation):
                    result.inconsistent = (
                        f"repeat {len(result.samples)} gave {observation.status}, "
                        f"gas {observation.gas_used} (first run: {result.observation.status}, "
                        f"gas {result.observation.gas_used})"
                    )
                if on_run:
                    on_run()
    except BudgetExceeded:
        pass
    except EngineUnsupported as exc:
        return skipped(engine, str(exc))
    except Exception as exc:
        result.state, result.reason = ERROR, describe_error(exc)
        return result
    result.notes.extend(runner.notes())
    if result.observation is None:
        result.state = SKIPPED
        result.reason = f"first run exceeded the {budget:g} s budget"
        return result
    if not result.samples:
        _sample_from_warmup(result, settings)
    elif len(result.samples) < settings.repeat:
        result.notes.append(f"{len(result.samples)}/{settings.repeat} repeats within the budget")
    return result


def _sample_from_warmup(result: Measurement, settings: Settings) -> None:
    """No timed repeat fitted in the budget: use the warm-up if it timed execution alone."""
    log = result.compile_log
    if log is None or not log.contracts:
        assert result.first_run_seconds is not None
        result.samples.append(result.first_run_seconds)
        result.notes.append(
            f"1 run only (the warm-up): a repeat would exceed {settings.budget:g} s"
        )
    else:
        result.state = SKIPPED
        result.reason = f"no run after the compiling warm-up fits the {settings.budget:g} s budget"
