"""ContextMemory: the native buffer builtins and generated code share."""

from __future__ import annotations

import pytest

from evmkiln.backend_llvm import frame_memory
from evmkiln.backend_llvm.context_layout import RuntimeContext
from evmkiln.backend_llvm.frame_memory import INITIAL_CAPACITY, ContextMemory
from evmkiln.builtins.memory_view import ZERO_RUN


def test_growth_past_capacity_keeps_bytes_and_zero_fills() -> None:
    ctx = RuntimeContext()
    memory = ContextMemory(ctx, bytearray(b"\x07" * 64))
    assert (len(memory), ctx.mem_len, ctx.mem_cap) == (64, 64, INITIAL_CAPACITY)
    memory[32:36] = b"\x01\x02\x03\x04"
    first_buffer = ctx.mem_ptr
    memory.extend(bytes(INITIAL_CAPACITY))  # past the capacity: reallocated
    assert ctx.mem_ptr != first_buffer and ctx.mem_cap >= INITIAL_CAPACITY + 64
    assert len(memory) == ctx.mem_len == INITIAL_CAPACITY + 64
    assert memory[30:38] == b"\x07\x07\x01\x02\x03\x04\x07\x07"
    assert memory[64:] == bytes(INITIAL_CAPACITY)
    memory.extend(b"\x00" * 31 + b"\x09")  # within capacity, non-zero data lands
    assert memory[-1] == 9
    contents = memory[:]
    assert memory.release() == bytearray(contents)


def test_release_leaves_a_zeroed_empty_buffer_for_the_next_run() -> None:
    ctx = RuntimeContext()
    memory = ContextMemory(ctx, b"\x05" * 100)
    memory[0:4] = b"\xff\xff\xff\xff"
    assert memory.release()[:5] == bytearray(b"\xff\xff\xff\xff\x05")
    assert ctx.mem_len == 0 and len(memory) == 0
    memory.borrow(b"\x01")
    memory.extend(bytes(200))
    assert memory[:] == b"\x01" + bytes(200)  # nothing of the earlier run shows


@pytest.fixture
def nothing_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """No other buffer in the process counts against the keep budget."""
    monkeypatch.setattr(frame_memory, "_KEPT", [0])


@pytest.mark.usefixtures("nothing_kept")
def test_a_grown_buffer_is_kept_zeroed_for_the_next_run() -> None:
    ctx = RuntimeContext()
    memory = ContextMemory(ctx)
    memory.extend(b"\x01" * (10 * INITIAL_CAPACITY))
    grown, capacity = ctx.mem_ptr, ctx.mem_cap
    assert capacity > INITIAL_CAPACITY
    assert memory.release() == bytearray(b"\x01" * (10 * INITIAL_CAPACITY))
    assert (ctx.mem_ptr, ctx.mem_cap, ctx.mem_len) == (grown, capacity, 0)
    assert memory.kept == capacity - INITIAL_CAPACITY == frame_memory._KEPT[0]
    memory.claim()  # the next run takes it
    assert memory.kept == 0 == frame_memory._KEPT[0]
    memory.extend(bytes(10 * INITIAL_CAPACITY))  # fits: no reallocation, all zeros
    assert ctx.mem_ptr == grown and memory[:] == bytes(10 * INITIAL_CAPACITY)


@pytest.mark.usefixtures("nothing_kept")
def test_idle_buffers_keep_at_most_the_budget_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frame_memory, "KEEP_CAPACITY", 15 * INITIAL_CAPACITY)
    first, second = RuntimeContext(), RuntimeContext()
    a, b = ContextMemory(first), ContextMemory(second)
    a.extend(bytes(10 * INITIAL_CAPACITY))
    b.extend(bytes(10 * INITIAL_CAPACITY))
    a.release()
    assert a.kept == frame_memory._KEPT[0] == 9 * INITIAL_CAPACITY  # 10 pages, 1 of them base
    assert len(b.release()) == 10 * INITIAL_CAPACITY  # over the budget: dropped
    assert (second.mem_len, second.mem_cap, b.kept) == (0, INITIAL_CAPACITY, 0)
    assert frame_memory._KEPT[0] == a.kept


@pytest.mark.usefixtures("nothing_kept")
def test_a_buffer_grown_past_the_keep_limit_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frame_memory, "KEEP_CAPACITY", 4 * INITIAL_CAPACITY)
    ctx = RuntimeContext()
    memory = ContextMemory(ctx)
    memory.extend(bytes(8 * INITIAL_CAPACITY + 1))
    assert len(memory.release()) == 8 * INITIAL_CAPACITY + 1
    assert (ctx.mem_len, ctx.mem_cap, memory.kept, frame_memory._KEPT[0]) == (
        0,
        INITIAL_CAPACITY,
        0,
        0,
    )


def test_every_access_is_bounded_by_msize() -> None:
    memory = ContextMemory(RuntimeContext())
    assert memory[0:100] == b""  # slices clamp to msize, like a bytearray's
    with pytest.raises(IndexError):
        memory[0]
    with pytest.raises(ValueError):
        memory[0:0] = b"\x01"  # assignment never changes the size
    memory.extend(bytes(32))
    with pytest.raises(IndexError):
        memory[32] = 1
    with pytest.raises(ValueError):
        memory[0:32:2]


@pytest.mark.usefixtures("nothing_kept")
@pytest.mark.parametrize("size", [1, ZERO_RUN - 1, ZERO_RUN, ZERO_RUN + 1, 3 * ZERO_RUN])
def test_release_zeroes_every_byte_used_either_way(size: int) -> None:
    """Up to ZERO_RUN bytes are cleared through the buffer's view, more by memset."""
    ctx = RuntimeContext()
    memory = ContextMemory(ctx)
    memory.extend(b"\xab" * size)
    assert memory.release() == bytearray(b"\xab" * size)
    memory.claim()
    memory.extend(bytes(size + 1))
    assert memory[:] == bytes(size + 1)
