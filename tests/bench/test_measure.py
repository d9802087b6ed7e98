"""Warm-up, repeats and the ways a measurement ends (no timing asserted)."""

from __future__ import annotations

import time

from fakes import FakeRunner, observation

from evmkiln.bench.budget import BudgetExceeded
from evmkiln.bench.compile_timing import CompileLog, ContractCompile
from evmkiln.bench.engines import EngineUnsupported
from evmkiln.bench.measure import ERROR, OK, SKIPPED, Settings, measure
from evmkiln.bench.observation import Observation


def test_warmup_then_repeats() -> None:
    runner = FakeRunner([observation()])
    result = measure("x", runner, Settings(repeat=3, warmup=2, budget=None))
    assert result.state == OK
    assert runner.calls == 5
    assert len(result.samples) == 3
    assert result.median == 0.001
    assert result.observation == observation()


def test_a_repeat_that_differs_is_flagged() -> None:
    runner = FakeRunner([observation(), observation(gas=1)])
    result = measure("x", runner, Settings(repeat=2, budget=None))
    assert result.inconsistent is not None and "gas 1" in result.inconsistent


def test_engine_exception_becomes_an_error() -> None:
    runner = FakeRunner([observation()], raise_on={0: RuntimeError("boom")})
    result = measure("x", runner, Settings(repeat=1, budget=None), describe_error=str)
    assert (result.state, result.reason) == (ERROR, "boom")


def test_unsupported_is_a_skip() -> None:
    runner = FakeRunner([observation()], raise_on={0: EngineUnsupported("no blobs")})
    result = measure("x", runner, Settings(repeat=1, budget=None))
    assert (result.state, result.reason) == (SKIPPED, "no blobs")


def test_budget_exhausted_in_the_first_run_skips() -> None:
    runner = FakeRunner([observation()], raise_on={0: BudgetExceeded()})
    result = measure("x", runner, Settings(repeat=3, budget=5))
    assert result.state == SKIPPED
    assert result.reason is not None and "budget" in result.reason


def test_budget_exhausted_after_the_warmup_keeps_it_unless_it_compiled() -> None:
    runner = FakeRunner([observation()], raise_on={1: BudgetExceeded()})
    result = measure("x", runner, Settings(repeat=3, budget=5))
    assert result.state == OK and len(result.samples) == 1
    assert any("warm-up" in note for note in result.notes)

    log = CompileLog([ContractCompile("evm_1", 10, 0.1, 0.2)])
    runner = FakeRunner([observation()], raise_on={1: BudgetExceeded()}, compile_log=log)
    assert measure("x", runner, Settings(repeat=3, budget=5)).state == SKIPPED


class CompilingRunner(FakeRunner):
    """Reports a long first run that was all compiling (as the compile log says)."""

    def run(self) -> tuple[Observation, float]:
        observation, seconds = super().run()
        if self.calls == 1:
            assert self.compile_log is not None
            self.compile_log.contracts.append(ContractCompile("evm_1", 10, 50.0, 50.0))
            return observation, 100.0 + seconds
        return observation, seconds


def test_compiling_in_the_warmup_does_not_use_up_the_budget() -> None:
    runner = CompilingRunner([observation()], compile_log=CompileLog())
    result = measure("x", runner, Settings(repeat=3, budget=30))
    assert result.state == OK and len(result.samples) == 3
    assert result.first_run_seconds is not None and result.first_run_seconds > 100


class SleepingRunner(FakeRunner):
    """Takes ``seconds`` of wall time a run, as a real engine does."""

    def run(self) -> tuple[Observation, float]:
        time.sleep(self.seconds)
        return super().run()


def test_a_warmup_time_gives_short_runs_many_warmups_and_long_runs_one() -> None:
    short = SleepingRunner([observation()], seconds=0.001)
    measure("x", short, Settings(repeat=2, warmup=1, warmup_time=0.05, budget=None))
    assert short.calls - 2 >= 10  # about fifty warm-ups of 1 ms in 0.05 s
    long = SleepingRunner([observation()], seconds=0.06)
    measure("x", long, Settings(repeat=2, warmup=1, warmup_time=0.05, budget=None))
    assert long.calls == 1 + 2


def test_compiling_does_not_count_as_warming_up() -> None:
    """The first run's compile is excluded from the warm-up time, as from the budget."""
    runner = CompilingRunner([observation()], compile_log=CompileLog())
    result = measure("x", runner, Settings(repeat=1, warmup=1, warmup_time=0.01, budget=None))
    assert result.state == OK and runner.calls > 10  # the 100 s first run counted for 0
