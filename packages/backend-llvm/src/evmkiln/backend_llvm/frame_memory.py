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
"""

from __future__ import annotations

import ctypes
from typing import Any

from evmkiln.backend_llvm.context_layout import RuntimeContext
from evmkiln.builtins.memory_view import NativeMemoryView

INITIAL_CAPACITY = 4096
"""Bytes allocated when a frame starts (most frames never need more)."""


def _zeroed(size: int) -> Any:
    return (ctypes.c_char * size)()


class ContextMemory(NativeMemoryView):
    """``frame.memory`` during a run: the buffer the context points at."""

    __slots__ = ("_buffer", "_ctx")

    def __init__(self, ctx: RuntimeContext, initial: bytes | bytearray = b"") -> None:
        self._ctx = ctx
        capacity = max(INITIAL_CAPACITY, len(initial))
        self._buffer: Any = _zeroed(capacity)
        if initial:
            ctypes.memmove(self._buffer, bytes(initial), len(initial))
        ctx.mem_ptr = ctypes.addressof(self._buffer)
        ctx.mem_len = len(initial)
        ctx.mem_cap = capacity

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
        """The memory as a ``bytearray`` for the frame once the run is over."""
        return bytearray(ctypes.string_at(self._buffer, self._ctx.mem_len))
