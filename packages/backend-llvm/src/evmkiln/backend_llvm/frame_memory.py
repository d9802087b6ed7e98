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

from evmkiln.backend_llvm.context_layout import RuntimeContext
from evmkiln.builtins.memory_view import NativeMemoryView

INITIAL_CAPACITY = 4096
"""Bytes allocated for a new buffer (most frames never need more)."""
KEEP_CAPACITY = 1 << 20
"""Largest buffer kept for the next run; a bigger one is replaced by a new small one."""


def _zeroed(size: int) -> Any:
    return (ctypes.c_char * size)()


class ContextMemory(NativeMemoryView):
    """``frame.memory`` during a run: the buffer the context points at."""

    __slots__ = ("_buffer", "_ctx")

    def __init__(self, ctx: RuntimeContext, initial: bytes | bytearray = b"") -> None:
        self._ctx = ctx
        self._buffer: Any = None
        self._allocate(INITIAL_CAPACITY)
        self.borrow(initial)

    def _allocate(self, capacity: int) -> None:
        self._buffer = _zeroed(capacity)
        ctx = self._ctx
        ctx.mem_ptr = ctypes.addressof(self._buffer)
        ctx.mem_len = 0
        ctx.mem_cap = capacity

    def borrow(self, initial: bytes | bytearray) -> None:
        """Start a run with ``initial`` as memory (the buffer is all zeros here)."""
        if initial:
            self.grow_to(len(initial))
            ctypes.memmove(self._buffer, bytes(initial), len(initial))

    def address(self) -> int:
        return ctypes.addressof(self._buffer)

    def __len__(self) -> int:
        return int(self._ctx.mem_len)

    def grow_to(self, size: int) -> None:
        ctx = self._ctx
        if size <= ctx.mem_len:
            return
        if size > ctx.mem_cap:
            capacity = max(size, 2 * ctx.mem_cap)
            bigger = _zeroed(capacity)
            ctypes.memmove(bigger, self._buffer, ctx.mem_len)
            self._buffer = bigger
            ctx.mem_ptr = ctypes.addressof(bigger)
            ctx.mem_cap = capacity
        ctx.mem_len = size

    def release(self) -> bytearray:
        """The memory as a ``bytearray`` for the frame; the buffer is left zeroed and empty."""
        ctx = self._ctx
        size = ctx.mem_len
        memory = bytearray(memoryview(self._buffer).cast("B")[:size]) if size else bytearray()
        if ctx.mem_cap > KEEP_CAPACITY:
            self._allocate(INITIAL_CAPACITY)
        else:
            ctypes.memset(self._buffer, 0, size)
            ctx.mem_len = 0
        return memory
