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
clears the bytes the run used, so the buffer is all zeros again, and a
buffer grown past :data:`KEEP_CAPACITY` is dropped rather than kept.
"""

from __future__ import annotations

import ctypes
from typing import Any

from evmkiln.backend_llvm.context_layout import I64, RuntimeContext, int64_view
from evmkiln.builtins.memory_view import NativeMemoryView

INITIAL_CAPACITY = 4096
"""Bytes allocated for a new buffer (most frames never need more)."""
KEEP_CAPACITY = 1 << 20
"""Largest buffer kept for the next run; a bigger one is replaced by a new small one."""


_MEM_LEN, _MEM_CAP = I64["mem_len"], I64["mem_cap"]


def _zeroed(size: int) -> Any:
    return (ctypes.c_char * size)()


class ContextMemory(NativeMemoryView):
    """``frame.memory`` during a run: the buffer the context points at."""

    __slots__ = ("_buffer", "_bytes", "_ctx", "_i64")

    def __init__(self, ctx: RuntimeContext, initial: bytes | bytearray = b"") -> None:
        self._ctx = ctx
        self._i64 = int64_view(ctx)
        self._buffer: Any = None
        self._bytes = memoryview(b"")
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

    def release(self) -> bytearray:
        """The memory as a ``bytearray`` for the frame; the buffer is left zeroed and empty."""
        i64 = self._i64
        size = i64[_MEM_LEN]
        if not size:
            return bytearray()
        memory = bytearray(self._bytes[:size])
        if i64[_MEM_CAP] > KEEP_CAPACITY:
            self._allocate(INITIAL_CAPACITY)
        else:
            ctypes.memset(self._buffer, 0, size)
            i64[_MEM_LEN] = 0
        return memory
