"""The entries of a native log buffer: how generated code writes a log, how the host reads it.

A token transfer emits a LOG3 every time, and a crossing into Python per log
(arguments packed as words, topics decoded, memory read, py-evm's
validation) costs more than everything else the transfer does in generated
code.  Both native backends therefore append each log to a buffer of their
own (the LLVM backend's ``LogBuffer``, the wasm backend's ``LOGS`` region)
and hand the logs to the host in order, before anything could observe or
add to the frame's logs.  This module is the format they share.

Entry layout, 8-byte aligned: a little-endian u64 header ``topic count |
data size << 8``, the topics as little-endian 32-byte words, then the data,
padded to a multiple of 8 bytes (the padding is never read).
"""

from __future__ import annotations

import struct

HEADER_BYTES = 8
TOPIC_BYTES = 32
SIZE_SHIFT = 8


def entry_bytes(topics: int, size: int) -> int:
    """Bytes one entry takes (mirrored by the translator)."""
    return HEADER_BYTES + TOPIC_BYTES * topics + ((size + 7) & ~7)


def decode_entries(raw: bytes) -> list[tuple[tuple[int, ...], bytes]]:
    """The ``(topics, data)`` of each entry in ``raw`` (a buffer's used bytes), in order."""
    if not raw:
        return []
    (header,) = _HEADER.unpack_from(raw, 0)
    if len(raw) == entry_bytes(header & 0xFF, header >> SIZE_SHIFT):
        return _entries(raw)  # one log: a frame's usual
    return _uniform_entries(raw) or _entries(raw)


_HEADER = struct.Struct("<Q")


def _entries(raw: bytes) -> list[tuple[tuple[int, ...], bytes]]:
    """The entries of ``raw``, one at a time."""
    logs: list[tuple[tuple[int, ...], bytes]] = []
    append = logs.append
    from_bytes = int.from_bytes
    header_at = _HEADER.unpack_from
    position = 0
    used = len(raw)
    while position < used:
        (header,) = header_at(raw, position)
        size = header >> SIZE_SHIFT
        start = position + HEADER_BYTES
        end = start + TOPIC_BYTES * (header & 0xFF)
        topics = tuple([from_bytes(raw[t : t + 32], "little") for t in range(start, end, 32)])
        append((topics, raw[end : end + size]))
        position = end + ((size + 7) & ~7)
    return logs


def _uniform_entries(raw: bytes) -> list[tuple[tuple[int, ...], bytes]] | None:
    """The entries of ``raw`` if all have one shape (``None`` otherwise), decoded a
    column at a time.

    A loop emits one event over and over (a batch of transfers, a loop of
    LOG3s), so a buffer of entries with the same topic count and data size is
    the common case; decoding it topic by topic in comprehensions costs half
    of the entry-by-entry walk.
    """
    (header,) = _HEADER.unpack_from(raw, 0)
    count = header & 0xFF
    size = header >> SIZE_SHIFT
    stride = entry_bytes(count, size)
    used = len(raw)
    entries, rest = divmod(used, stride)
    if rest or entries < 2:
        return None
    first = raw[:HEADER_BYTES]
    # Every stride-th byte of each header position equal to the first header's.
    for i in range(HEADER_BYTES):
        if raw[i::stride] != first[i : i + 1] * entries:
            return None
    columns = [
        _column(raw, start, stride, entries)
        for start in range(HEADER_BYTES, HEADER_BYTES + TOPIC_BYTES * count, TOPIC_BYTES)
    ]
    data_start = HEADER_BYTES + TOPIC_BYTES * count
    data = [raw[d : d + size] for d in range(data_start, data_start + stride * entries, stride)]
    if not count:
        return [((), d) for d in data]
    return list(zip(zip(*columns, strict=True), data, strict=True))


def _column(raw: bytes, start: int, stride: int, entries: int) -> list[int]:
    """The topics at ``start`` of each entry.  One decode when they are all equal (an
    event's signature, a fixed sender), checked a byte position at a time."""
    first = raw[start : start + TOPIC_BYTES]
    for i in range(TOPIC_BYTES):
        if raw[start + i :: stride] != first[i : i + 1] * entries:
            from_bytes = int.from_bytes
            return [from_bytes(raw[t : t + 32], "little") for t in range(start, len(raw), stride)]
    return [int.from_bytes(first, "little")] * entries
