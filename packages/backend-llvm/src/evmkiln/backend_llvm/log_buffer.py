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

Entry layout, 8-byte aligned: a little-endian u64 header ``topic count |
data size << 8``, the topics as little-endian 32-byte words, then the data,
padded to a multiple of 8 bytes (the padding is never read).  The
translator writes entries (``_Translator.log``); :meth:`LogBuffer.drain`
reads them.
"""

from __future__ import annotations

import ctypes

from evmkiln.backend_llvm.context_layout import RuntimeContext

CAPACITY = 1 << 16
"""Bytes of buffered logs; a larger log, or one that does not fit, is emitted from Python."""
HEADER_BYTES = 8
TOPIC_BYTES = 32
SIZE_SHIFT = 8


def entry_bytes(topics: int, size: int) -> int:
    """Bytes one entry takes (mirrored by the translator)."""
    return HEADER_BYTES + TOPIC_BYTES * topics + ((size + 7) & ~7)


class LogBuffer:
    """The log buffer of one run state (reused from frame to frame)."""

    __slots__ = ("_address", "_buffer", "_ctx")

    def __init__(self, ctx: RuntimeContext) -> None:
        self._buffer = (ctypes.c_char * CAPACITY)()
        self._address = ctypes.addressof(self._buffer)
        self._ctx = ctx
        ctx.lg_ptr = self._address
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
        raw = ctypes.string_at(self._address, used)
        logs: list[tuple[tuple[int, ...], bytes]] = []
        append = logs.append
        from_bytes = int.from_bytes
        position = 0
        while position < used:
            header = from_bytes(raw[position : position + HEADER_BYTES], "little")
            count = header & 0xFF
            size = header >> SIZE_SHIFT
            start = position + HEADER_BYTES
            end = start + TOPIC_BYTES * count
            topics = tuple(
                [from_bytes(raw[t : t + TOPIC_BYTES], "little") for t in range(start, end, 32)]
            )
            append((topics, raw[end : end + size]))
            position = end + ((size + 7) & ~7)
        return logs
