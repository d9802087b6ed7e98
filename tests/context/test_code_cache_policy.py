"""The code cache's eviction and compile-failure policies."""

from __future__ import annotations

import pytest

from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.budget import CompileBudgetExceeded
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.codegen.reference import ReferenceBackend
from evmkiln.context.code_cache import CodeCache, CompileFailedError, DispatchStats


def _broken_lowering(code: bytes) -> Function:
    raise RuntimeError("lowering exploded")


def test_least_recently_used_code_is_dropped_first() -> None:
    cache = CodeCache(ReferenceBackend(), CompileOptions(), DispatchStats(), max_entries=2)
    a, b, c = b"\x00", b"\x60\x01\x00", b"\x60\x02\x00"
    first_a = cache.get(a)
    cache.get(b)
    assert cache.get(a) is first_a  # a is now the most recently used
    cache.get(c)  # evicts b, not a
    assert len(cache) == 2
    assert cache.get(a) is first_a
    assert cache.stats.frames_compiled == 3
    cache.get(b)  # compiled again after eviction
    assert cache.stats.frames_compiled == 4


class _EvictedMeanwhile(dict[bytes, object]):
    """Entries that another thread changes between the eviction's look and its delete."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        keys = iter(list(super().__iter__()))
        self.clear()  # the other thread: evicted everything meanwhile
        return keys


def test_eviction_raced_by_another_thread_still_compiles() -> None:
    """Threads sharing a VM class share its cache: the oldest entry may be gone by the
    time this thread deletes it."""
    cache = CodeCache(ReferenceBackend(), CompileOptions(), DispatchStats(), max_entries=1)
    cache.get(b"\x00")
    cache._entries = _EvictedMeanwhile(cache._entries)  # type: ignore[assignment]
    assert cache.get(b"\x60\x01\x00") is not None
    assert cache.stats.frames_compiled == 2


def test_compile_failure_falls_back_by_default_and_raises_when_asked() -> None:
    lenient = CodeCache(ReferenceBackend(), CompileOptions(), DispatchStats(), _broken_lowering)
    assert lenient.get(b"\x00") is None
    assert lenient.stats.compile_failures == 1
    strict = CodeCache(
        ReferenceBackend(), CompileOptions(), DispatchStats(), _broken_lowering, fallback=False
    )
    with pytest.raises(CompileFailedError, match="lowering exploded"):
        strict.get(b"\x00")


def test_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CodeCache(
            ReferenceBackend(), CompileOptions(), DispatchStats(), lower_bytecode, max_entries=0
        )


def _over_budget(code: bytes) -> Function:
    raise CompileBudgetExceeded("IR blocks", 99, 10, len(code))


def test_code_over_budget_is_interpreted_even_when_failures_raise() -> None:
    """A refusal is no compiler bug: interpreted, counted apart, whatever the policy."""
    for fallback in (True, False):
        stats = DispatchStats()
        backend = ReferenceBackend()
        cache = CodeCache(backend, CompileOptions(), stats, _over_budget, fallback=fallback)
        assert cache.get(b"\x00") is None
        assert (stats.compile_refusals, stats.compile_failures) == (1, 0)
        assert "99 IR blocks" in stats.refusals[b"\x00"]
        stats.reset()
        assert stats.compile_refusals == 0 and not stats.refusals
