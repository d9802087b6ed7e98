"""Logs a frame emitted in native code, held until the host could tell the difference.

A token transfer emits a LOG3 every time, and a crossing into Python per log
(arguments packed as words, topics decoded, memory read through the frame
view, py-evm's validation) cost more than everything else the transfer does
in native code.  Generated code now appends each log to this buffer: the
static-context check, the gas (8 a data byte, 375 a topic) and memory
expansion are the same as in the builtin, and only a log that does not fit
the buffer takes the builtin's path.

The host learns of the logs in order, before anything could observe or add
to the frame's logs: before a builtin that runs another frame (whose logs
come after these), before a LOG taken by the Python path, and when the frame
ends.  A frame that reverts or halts has its logs discarded by py-evm either
way.

The entry layout is :mod:`evmkiln.builtins.log_entries`'s (the wasm backend
writes the same); the translator writes entries (``_Translator.log``),
:meth:`LogBuffer.drain` reads them.
"""

from __future__ import annotations

import ctypes

from evmkiln.backend_llvm.context_layout import RuntimeContext
from evmkiln.builtins.log_entries import (
    HEADER_BYTES,
    SIZE_SHIFT,
    TOPIC_BYTES,
    decode_entries,
    entry_bytes,
)

CAPACITY = 1 << 16
"""Bytes of buffered logs; a larger log, or one that does not fit, is emitted from Python."""


class LogBuffer:
    """The log buffer of one run state (reused from frame to frame)."""

    __slots__ = ("_buffer", "_bytes", "_ctx")

    def __init__(self, ctx: RuntimeContext) -> None:
        self._buffer = (ctypes.c_char * CAPACITY)()
        self._bytes = memoryview(self._buffer).cast("B")
        self._ctx = ctx
        ctx.lg_ptr = ctypes.addressof(self._buffer)
        ctx.lg_cap = CAPACITY
        ctx.lg_len = 0

    def reset(self) -> None:
        self._ctx.lg_len = 0

    def drain(self) -> list[tuple[tuple[int, ...], bytes]]:
        """Every buffered log as ``(topics, data)``, oldest first; the buffer is emptied."""
        used = self._ctx.lg_len
        if not used:
            return []
        self._ctx.lg_len = 0
        return decode_entries(bytes(self._bytes[:used]))


__all__ = [
    "CAPACITY",
    "HEADER_BYTES",
    "SIZE_SHIFT",
    "TOPIC_BYTES",
    "LogBuffer",
    "decode_entries",
    "entry_bytes",
]
