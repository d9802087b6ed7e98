"""The tiered runtime's promotions, limits and eviction, under deterministic policies.

Most tests compile at the moment of promotion (``background=False``) with the
reference backend, so every promotion happens at a known frame; the ones
about the queue and the compiler process use background workers and
``wait_idle``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from message_harness import A, apply_message
from pydantic import ValidationError

from evmkiln.codegen.backend import BackendCapabilities, CompileOptions, Executable
from evmkiln.codegen.background import CompiledCode
from evmkiln.codegen.budget import CompileBudgetExceeded
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.reference import ReferenceBackend
from evmkiln.context import RuntimePolicy, Threshold, disk_cache, make_vm_class
from evmkiln.context.code_cache import CodeCache
from evmkiln.context.runtime import TEST_SUITE, CompilationEvent, TieredCodeCache

# RETURN(calldataload(0) + 1)
INCREMENT = bytes.fromhex("60003560010160005260206000f3")
# Loops 200 times around a JUMPDEST, then stops: about 6,000 gas in one frame.
LOOP = bytes.fromhex("60c8 5b 6001 90 03 80 6002 57 00".replace(" ", ""))
WORD = (41).to_bytes(32, "big")


def calls_only(*calls: int) -> tuple[Threshold, ...]:
    return tuple(Threshold(calls=n, gas=None) for n in calls)


def deterministic(**fields: Any) -> RuntimePolicy:
    return RuntimePolicy(background=False, **fields)


@pytest.fixture
def vms() -> Iterator[list[Any]]:
    """VM classes made by a test, their runtimes closed afterwards."""
    made: list[Any] = []
    yield made
    for vm in made:
        if isinstance(vm.code_cache, TieredCodeCache):
            vm.code_cache.close()


def make(vms: list[Any], backend: Any = "ir", **kwargs: Any) -> Any:
    vm = make_vm_class(backend, **{"fork": "cancun", **kwargs})
    vms.append(vm)
    return vm


def call(vm: Any, code: bytes = INCREMENT, data: bytes = WORD) -> Any:
    return apply_message(vm, {A: {"code": code}}, data=data)


def test_defaults_and_validation() -> None:
    policy = RuntimePolicy()
    assert policy.mode == "tiered" and policy.background
    assert policy.workers >= 1
    assert policy.threshold(1).calls == 8 and policy.threshold(2).calls == 64
    assert policy.threshold(3) == policy.threshold(2)  # the last one repeats
    assert policy.tier_backends("ir") == ("ir",)
    assert policy.tier_backends("llvm") == ("wasm", "llvm")
    assert RuntimePolicy(fast_tier=None).tier_backends("llvm") == ("llvm",)
    assert RuntimePolicy(mode="blocking").tier_backends("llvm") == ("llvm",)
    assert RuntimePolicy(fast_tier="ir", fast_tier_opt_level=0).tier_backends("ir") == ("ir", "ir")
    assert Threshold(gas=100, gas_per_byte=3).gas_for(10) == 130
    with pytest.raises(ValidationError):
        RuntimePolicy(thresholds=())
    with pytest.raises(ValidationError):
        RuntimePolicy(workers=0)


def test_without_a_runtime_the_vm_compiles_before_running(vms: list[Any]) -> None:
    vm = make(vms)
    assert isinstance(vm.code_cache, CodeCache)
    call(vm)
    assert (vm.stats.frames_compiled, vm.stats.frames_run_compiled) == (1, 1)
    blocking = make(vms, runtime=RuntimePolicy(mode="blocking"))
    assert isinstance(blocking.code_cache, CodeCache)
    with pytest.raises(ValueError, match="tiered"):
        make_vm_class(
            "ir", runtime=RuntimePolicy(mode="blocking"), on_compilation=print, fork="cancun"
        )


def test_code_is_promoted_at_its_threshold_call(vms: list[Any]) -> None:
    vm = make(vms, runtime=deterministic(thresholds=calls_only(3)))
    cache = vm.code_cache
    expected = call(make(vms))
    for _ in range(2):
        assert call(vm) == expected
    assert cache.tier_of(INCREMENT) == 0 and vm.stats.frames_interpreted == 2
    assert call(vm) == expected  # the third frame compiles, then runs compiled
    assert cache.tier_of(INCREMENT) == 1 and vm.stats.frames_run_compiled == 1
    stats = cache.snapshot()
    assert stats.tiers == ("interpreter", "ir")
    assert stats.hits == (2, 1) and stats.promotions == (0, 1)
    assert (stats.queued, stats.done, stats.pending) == (1, 1, 0)
    assert stats.phase_seconds["lowering"] > 0


def test_two_tiers_promote_in_turn(vms: list[Any]) -> None:
    events: list[CompilationEvent] = []
    policy = deterministic(fast_tier="ir", fast_tier_opt_level=0, thresholds=calls_only(2, 4))
    vm = make(vms, runtime=policy, on_compilation=events.append)
    cache = vm.code_cache
    tiers = []
    for _ in range(5):
        call(vm)
        tiers.append(cache.tier_of(INCREMENT))
    assert tiers == [0, 1, 1, 2, 2]
    assert cache.snapshot().tiers == ("interpreter", "ir:O0", "ir")
    assert [(e.tier, e.backend, e.outcome) for e in events] == [
        (1, "ir:O0", "done"),
        (2, "ir", "done"),
    ]
    assert events[0].code_size == len(INCREMENT) and events[0].nbytes > 0


def test_a_code_hot_enough_for_the_top_tier_skips_the_fast_one(vms: list[Any]) -> None:
    policy = deterministic(
        fast_tier="ir",
        fast_tier_opt_level=0,
        thresholds=(Threshold(calls=None, gas=5_000, gas_per_byte=0),) * 2,
    )
    vm = make(vms, runtime=policy)
    call(vm, LOOP)
    assert vm.code_cache.tier_of(LOOP) == 2
    assert vm.code_cache.snapshot().promotions == (0, 0, 1)


def test_the_test_suite_policy_compiles_only_what_spends_gas(vms: list[Any]) -> None:
    """Cheap frames called again and again stay interpreted; a loop gets compiled."""
    policy = TEST_SUITE.model_copy(update={"background": False, "fast_tier": None})
    vm = make(vms, runtime=policy)
    for _ in range(50):
        call(vm)  # INCREMENT: a few dozen gas per frame
    assert vm.code_cache.tier_of(INCREMENT) == 0
    frames = 0
    while vm.code_cache.tier_of(LOOP) == 0 and frames < 100:
        call(vm, LOOP)  # about 6,000 gas per frame
        frames += 1
    assert 10 <= frames <= 14  # 63,000 gas (60,000 + 250 per byte) at 5,000-6,300 a frame


def test_initcode_stays_interpreted_when_the_policy_says_so(vms: list[Any]) -> None:
    """Creation code is not even tracked under ``compile_initcode=False`` (the
    test-suite policy); code called as a contract still is."""
    assert TEST_SUITE.compile_initcode is False
    policy = deterministic(thresholds=calls_only(1), fast_tier=None, compile_initcode=False)
    vm = make(vms, runtime=policy)
    for _ in range(3):
        apply_message(vm, {}, initcode=LOOP)
    assert vm.code_cache.tier_of(LOOP) == 0
    assert vm.code_cache.snapshot().lookups == 0
    call(vm)
    call(vm)
    assert vm.code_cache.tier_of(INCREMENT) == 1
    compiling = make(vms, runtime=deterministic(thresholds=calls_only(1), fast_tier=None))
    apply_message(compiling, {}, initcode=LOOP)
    apply_message(compiling, {}, initcode=LOOP)
    assert compiling.code_cache.tier_of(LOOP) == 1


def test_gas_threshold_grows_with_code_size(vms: list[Any]) -> None:
    """One frame of LOOP spends about 6,000 gas: enough for 5,000 + 1 per byte, not 100 per byte."""
    cheap = make(
        vms, runtime=deterministic(thresholds=(Threshold(calls=None, gas=5_000, gas_per_byte=1),))
    )
    call(cheap, LOOP)  # promoted when the frame ends, by its gas
    assert cheap.code_cache.tier_of(LOOP) == 1
    costly = make(
        vms, runtime=deterministic(thresholds=(Threshold(calls=None, gas=5_000, gas_per_byte=100),))
    )
    call(costly, LOOP)
    assert costly.code_cache.tier_of(LOOP) == 0


def test_code_over_max_code_size_stays_interpreted(vms: list[Any]) -> None:
    vm = make(
        vms, runtime=deterministic(thresholds=calls_only(1), max_code_size=len(INCREMENT) - 1)
    )
    for _ in range(3):
        call(vm)
    assert vm.code_cache.tier_of(INCREMENT) == 0
    assert vm.code_cache.snapshot().queued == 0


def _broken_lowering(code: bytes) -> Function:
    raise RuntimeError("lowering exploded")


def test_failed_compile_leaves_the_code_interpreted_and_is_remembered(vms: list[Any]) -> None:
    expected = call(make(vms))
    vm = make(vms, runtime=deterministic(thresholds=calls_only(1)), lower=_broken_lowering)
    for _ in range(3):
        assert call(vm) == expected
    stats = vm.code_cache.snapshot()
    assert (stats.queued, stats.failed, stats.hits) == (1, 1, (3, 0))
    assert "lowering exploded" in vm.stats.failures[INCREMENT]


def _refusing_lowering(code: bytes) -> Function:
    raise CompileBudgetExceeded("IR instructions", 10**6, 1_000, len(code))


def test_a_refused_compile_is_remembered_across_processes(vms: list[Any], tmp_path: Path) -> None:
    """A later VM class with the same persistent cache does not try the code again."""
    pytest.importorskip("evmkiln.backend_wasm")
    policy = deterministic(thresholds=calls_only(1))
    options: dict[str, Any] = {
        "runtime": policy,
        "persistent_cache": True,
        "code_cache_dir": tmp_path,
    }
    expected = call(make(vms))
    first = make(vms, "wasm", lower=_refusing_lowering, **options)
    assert call(first) == expected
    assert first.code_cache.snapshot().refused == 1
    # A new process, whose lowering would work: the code stays interpreted.
    events: list[CompilationEvent] = []
    second = make(vms, "wasm", on_compilation=events.append, **options)
    for _ in range(3):
        assert call(second) == expected
    stats = second.code_cache.snapshot()
    assert events == []
    assert (stats.queued, stats.remembered_refusals, stats.hits) == (0, 1, (3, 0))
    assert "compile budget exceeded" in second.stats.refusals[INCREMENT]
    # Clearing the cache forgets it.
    disk_cache.clear(tmp_path)
    cleared = make(vms, "wasm", **options)
    call(cleared)
    assert cleared.code_cache.snapshot().done == 1
    # A failure that may not recur is not remembered.
    broken = make(
        vms, "wasm", lower=_broken_lowering, **{**options, "code_cache_dir": tmp_path / "b"}
    )
    call(broken)
    third = make(vms, "wasm", **{**options, "code_cache_dir": tmp_path / "b"})
    call(third)
    assert third.code_cache.snapshot().done == 1


def test_byte_cap_evicts_least_recently_used_code(vms: list[Any]) -> None:
    """The reference backend's executables are charged 64 bytes per byte of code."""
    other = INCREMENT[:-1] + b"\xf3\x00"
    cap = 64 * len(INCREMENT) + 64 * len(other) - 1  # room for one of the two
    vm = make(vms, runtime=deterministic(thresholds=calls_only(1), cache_bytes=cap))
    cache = vm.code_cache
    call(vm, INCREMENT)
    assert cache.tier_of(INCREMENT) == 1
    call(vm, other)
    assert cache.tier_of(other) == 1 and cache.tier_of(INCREMENT) == 0
    stats = cache.snapshot()
    assert (stats.evicted_bytes, stats.cached_codes) == (1, 1)
    assert stats.cached_bytes == 64 * len(other)
    call(vm, INCREMENT)  # hot again from scratch: compiled again, and the other one goes
    assert cache.tier_of(INCREMENT) == 1 and cache.tier_of(other) == 0


def test_machine_code_larger_than_the_cache_is_refused(vms: list[Any]) -> None:
    vm = make(vms, runtime=deterministic(thresholds=calls_only(1), cache_bytes=10))
    call(vm)
    call(vm)
    stats = vm.code_cache.snapshot()
    assert (stats.refused, stats.queued, stats.cached_bytes) == (1, 1, 0)


def test_idle_code_is_evicted(vms: list[Any]) -> None:
    vm = make(vms, runtime=deterministic(thresholds=calls_only(1), idle_evict_seconds=0.05))
    cache = vm.code_cache
    call(vm)
    assert cache.tier_of(INCREMENT) == 1
    threading.Event().wait(0.1)
    cache.evict_idle()
    assert cache.tier_of(INCREMENT) == 0
    assert cache.snapshot().evicted_idle == 1


class GatedBackend(ReferenceBackend):
    """The reference backend, but each compile waits for ``gate`` (for queue tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def compile(self, function: Function, options: CompileOptions | None = None) -> Any:
        assert self.gate.wait(30)
        return super().compile(function, options)


def test_background_compile_keeps_the_frame_interpreted_and_respects_max_pending(
    vms: list[Any],
) -> None:
    backend = GatedBackend()
    codes = [INCREMENT, INCREMENT[:-1] + b"\xf3\x00", INCREMENT[:-1] + b"\xf3\xfe"]
    policy = RuntimePolicy(thresholds=calls_only(1), workers=1, max_pending=2)
    vm = make(vms, backend, runtime=policy)
    cache = vm.code_cache
    for code in codes:
        call(vm, code)  # each promotes at its first frame, which runs interpreted
    call(vm, codes[2])  # deferred: its frames do not ask again
    stats = cache.snapshot()
    assert (stats.queued, stats.pending, stats.backlog) == (2, 2, 1)
    assert stats.rejected == 1
    assert vm.stats.frames_interpreted == 4
    assert not cache.wait_idle(0.05)
    backend.gate.set()
    # The deferred promotion is queued when a compile ends, with no frame of its code.
    assert cache.wait_idle(30)
    assert [cache.tier_of(code) for code in codes] == [1, 1, 1]
    stats = cache.snapshot()
    assert (stats.done, stats.backlog, stats.pending) == (3, 0, 0)


def test_a_burst_of_promotions_is_compiled_whole(vms: list[Any]) -> None:
    """Twenty codes hot at once, one compile at a time: every one ends compiled.

    Before the backlog, a promotion beyond ``max_pending`` was retried only at
    the code's next frame, so codes that did not run again stayed interpreted
    (and a second process found nothing of them in the persistent cache).
    """
    backend = GatedBackend()
    codes = [INCREMENT[:-1] + b"\xf3" + bytes([i]) for i in range(20)]
    vm = make(vms, backend, runtime=RuntimePolicy(thresholds=calls_only(1), max_pending=1))
    for code in codes:
        call(vm, code)
    backend.gate.set()
    assert vm.code_cache.wait_idle(60)
    assert [vm.code_cache.tier_of(code) for code in codes] == [1] * 20
    assert vm.code_cache.snapshot().rejected == 19


def test_a_code_that_got_hotter_during_its_compile_goes_on_to_the_next_tier(
    vms: list[Any],
) -> None:
    """Its frames do not ask while a compile is pending; the install asks for them."""
    backend = GatedBackend()
    policy = RuntimePolicy(fast_tier="ir", fast_tier_opt_level=0, thresholds=calls_only(1, 2))
    vm = make(vms, backend, runtime=policy)
    cache = vm.code_cache
    call(vm)  # promoted to tier 1, compile held at the gate
    call(vm)  # hot enough for tier 2 now, but tier 1 is pending
    assert cache.snapshot().queued == 1
    backend.gate.set()
    assert cache.wait_idle(60)
    assert cache.tier_of(INCREMENT) == 2  # with no further frame
    assert cache.snapshot().promotions == (0, 1, 1)


def test_close_drops_the_backlog(vms: list[Any]) -> None:
    backend = GatedBackend()
    vm = make(vms, backend, runtime=RuntimePolicy(thresholds=calls_only(1), max_pending=1))
    cache = vm.code_cache
    for i in range(3):
        call(vm, INCREMENT[:-1] + b"\xf3" + bytes([i]))
    assert cache.snapshot().backlog == 2
    backend.gate.set()
    cache.close()
    stats = cache.snapshot()
    assert (stats.pending, stats.backlog) == (0, 0)
    assert stats.done + stats.abandoned == 1


def test_close_abandons_queued_compiles(vms: list[Any]) -> None:
    backend = GatedBackend()
    vm = make(vms, backend, runtime=RuntimePolicy(thresholds=calls_only(1), workers=1))
    cache = vm.code_cache
    call(vm, INCREMENT)
    call(vm, INCREMENT[:-1] + b"\xf3\x00")
    backend.gate.set()
    cache.close()
    stats = cache.snapshot()
    assert stats.pending == 0
    assert stats.done + stats.abandoned == 2


class ChildBackend(ReferenceBackend):
    """A backend whose background job (in the compiler process) is one of tests/support's."""

    compiler_env: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, job: str) -> None:
        super().__init__()
        self.background_job = job
        self.name = "child"

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities()

    def load_compiled(
        self, compiled: CompiledCode
    ) -> Executable:  # pragma: no cover - never reached
        raise AssertionError("the job never succeeds")


def test_compile_killed_by_its_time_limit_leaves_the_code_interpreted(vms: list[Any]) -> None:
    events: list[CompilationEvent] = []
    policy = deterministic(thresholds=calls_only(1), compile_seconds=0.5)
    vm = make(
        vms,
        ChildBackend("compiler_jobs:slow_compile"),
        runtime=policy,
        on_compilation=events.append,
    )
    expected = call(make(vms))
    for _ in range(3):
        assert call(vm) == expected
    stats = vm.code_cache.snapshot()
    assert (stats.queued, stats.timed_out, stats.hits) == (1, 1, (3, 0))
    assert [e.outcome for e in events] == ["timed_out"]
    assert "more than 0.5 s of CPU time" in vm.stats.failures[INCREMENT]


def test_compile_failing_in_the_compiler_process_is_counted(vms: list[Any]) -> None:
    vm = make(
        vms,
        ChildBackend("compiler_jobs:failing_compile"),
        runtime=deterministic(thresholds=calls_only(1)),
    )
    call(vm)
    call(vm)
    stats = vm.code_cache.snapshot()
    assert (stats.failed, stats.queued) == (1, 1)
    assert "cannot compile 14 bytes for cancun" in vm.stats.failures[INCREMENT]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
@pytest.mark.parametrize("increment", [0, 5])
def test_background_compiles_run_at_a_lower_priority(vms: list[Any], increment: int) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    policy = RuntimePolicy(thresholds=calls_only(1), compiler_nice=increment)
    vm = make(vms, ChildBackend("compiler_jobs:nice_reporting_compile"), runtime=policy)
    call(vm)
    assert vm.code_cache.wait_idle(30)
    assert f"compiler nice {min(19, base + increment)}" in vm.stats.failures[INCREMENT]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the frames' thread keeps its priority


def test_frames_report_gas_to_the_tiered_cache_only(vms: list[Any]) -> None:
    vm = make(vms, runtime=deterministic(thresholds=calls_only(100)))
    seen = call(vm, LOOP)
    entry = vm.code_cache._entries[LOOP]
    assert entry.gas == 1_000_000 - seen.gas_remaining > 0


def test_loop_spends_what_the_gas_tests_assume(vms: list[Any]) -> None:
    seen = call(make(vms), LOOP)
    assert seen.success and 5_013 < 1_000_000 - seen.gas_remaining < 6_300
