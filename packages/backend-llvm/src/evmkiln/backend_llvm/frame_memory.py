"""The frame's EVM memory while compiled code runs: a native buffer with spare capacity.

Solidity grows memory all the time (every allocation moves the free-memory
pointer), and crossing into Python for each expansion cost more than the
code between them: snailtracer expands memory 215,000 times.  So memory is a
zero-filled native buffer described by three context fields, ``mem_ptr``,
``mem_len`` (msize) and ``mem_cap``.  Generated code charges an expansion and
raises ``mem_len`` itself while the new size fits the capacity
(``@evmkiln.mem_grow``); only past the capacity does it call the Python
entry, which reallocates (:meth:`ContextMemory.grow_to`, at least doubling).

The bytes between ``mem_len`` and ``mem_cap`` are always zero -- the buffer
starts zeroed and memory never shrinks during a run -- which is what lets
native growth skip clearing them.  Builtins see the same bytes through
:class:`ContextMemory`, a :class:`~evmkiln.builtins.memory_view.NativeMemoryView`
reading and writing the buffer in place; when the run ends the frame gets a
``bytearray`` copy back.

A context and its memory are reused by later runs (see
:class:`~evmkiln.backend_llvm.builtin_bridge.RunState`): releasing memory
clears the bytes the run used, so the buffer is all zeros again, and a grown
buffer is kept for the next run while idle buffers hold at most
:data:`KEEP_CAPACITY` bytes in all.  Growing afresh on every run cost more
than the clearing: snailtracer's 8 MB took eleven reallocations a run, whose
fresh pages the kernel zeroed on first touch (1.5 ms a run in some
processes, 10 ms or more in others, depending on whether the allocator
handed back mapped or new pages).
"""

from __future__ import annotations

import ctypes
from typing import Any

from evmkiln.backend_llvm.context_layout import I64, RuntimeContext, int64_view
from evmkiln.builtins.memory_view import ZERO_RUN, ZEROS, NativeMemoryView

INITIAL_CAPACITY = 4096
"""Bytes allocated for a new buffer (most frames never need more)."""
KEEP_CAPACITY = 64 << 20
"""Bytes of grown buffers that idle contexts keep for later runs, all together; a
buffer that would go past it is replaced by a new small one."""
_KEPT = [0]
"""Capacity beyond :data:`INITIAL_CAPACITY` held by idle buffers now."""


_MEM_LEN, _MEM_CAP = I64["mem_len"], I64["mem_cap"]


def _zeroed(size: int) -> Any:
    return (ctypes.c_char * size)()


class ContextMemory(NativeMemoryView):
    """``frame.memory`` during a run: the buffer the context points at."""

    __slots__ = ("_buffer", "_bytes", "_ctx", "_i64", "kept")

    def __init__(self, ctx: RuntimeContext, initial: bytes | bytearray = b"") -> None:
        self._ctx = ctx
        self._i64 = int64_view(ctx)
        self._buffer: Any = None
        self._bytes = memoryview(b"")
        self.kept = 0
        """Bytes this idle buffer counts in :data:`_KEPT` (0 while a run uses it)."""
        self._allocate(INITIAL_CAPACITY)
        self.borrow(initial)

    def _allocate(self, capacity: int) -> None:
        self._use(_zeroed(capacity), capacity)
        self._i64[_MEM_LEN] = 0

    def _use(self, buffer: Any, capacity: int) -> None:
        self._buffer = buffer
        self._bytes = memoryview(buffer).cast("B")
        self._ctx.mem_ptr = ctypes.addressof(buffer)
        self._i64[_MEM_CAP] = capacity

    def borrow(self, initial: bytes | bytearray) -> None:
        """Start a run with ``initial`` as memory (the buffer is all zeros here)."""
        if initial:
            self.grow_to(len(initial))
            self._bytes[: len(initial)] = initial

    def address(self) -> int:
        return ctypes.addressof(self._buffer)

    def _view_to(self, stop: int) -> memoryview | None:
        return self._bytes  # the whole buffer: its capacity is at least msize

    def __len__(self) -> int:
        return self._i64[_MEM_LEN]

    def grow_to(self, size: int) -> None:
        i64 = self._i64
        length = i64[_MEM_LEN]
        if size <= length:
            return
        capacity = i64[_MEM_CAP]
        if size > capacity:
            capacity = max(size, 2 * capacity)
            bigger = _zeroed(capacity)
            ctypes.memmove(bigger, self._buffer, length)
            self._use(bigger, capacity)
        i64[_MEM_LEN] = size

    def output(self, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset`` (RETURN's range, which the code expanded over)."""
        if offset < 0 or size < 0 or offset + size > self._i64[_MEM_LEN]:
            raise RuntimeError(f"output range {offset}+{size} outside memory of {len(self)}")
        return bytes(self._bytes[offset : offset + size])

    def claim(self) -> None:
        """A run takes this buffer: it no longer counts as kept while idle."""
        _KEPT[0] -= self.kept
        self.kept = 0

    def release(self, keep: bool = True) -> bytearray:
        """The memory as a ``bytearray`` for the frame (empty unless ``keep``); the
        buffer is left zeroed and empty."""
        i64 = self._i64
        size = i64[_MEM_LEN]
        memory = bytearray(self._bytes[:size]) if size and keep else bytearray()
        extra = i64[_MEM_CAP] - INITIAL_CAPACITY
        if extra > 0 and _KEPT[0] + extra > KEEP_CAPACITY:
            self._allocate(INITIAL_CAPACITY)
            return memory
        if size:
            if size <= ZERO_RUN:
                self._bytes[:size] = ZEROS[:size]
            else:
                ctypes.memset(self._buffer, 0, size)
            i64[_MEM_LEN] = 0
        if extra > 0:
            self.kept = extra
            _KEPT[0] += extra
        return memory
