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

import itertools
import struct
from array import array
from collections.abc import Sequence
from typing import Any

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
_TOPICS = [struct.Struct(f"{TOPIC_BYTES}s" * count).unpack_from for count in range(5)]
"""What splits the topics of LOG0 to LOG4 (what generated code writes)."""
_LITTLE = itertools.repeat("little")


def _entries(raw: bytes) -> list[tuple[tuple[int, ...], bytes]]:
    """The entries of ``raw``, one at a time."""
    logs: list[tuple[tuple[int, ...], bytes]] = []
    append = logs.append
    from_bytes: Any = int.from_bytes
    header_at = _HEADER.unpack_from
    position = 0
    used = len(raw)
    while position < used:
        (header,) = header_at(raw, position)
        size = header >> SIZE_SHIFT
        start = position + HEADER_BYTES
        count = header & 0xFF
        end = start + TOPIC_BYTES * count
        if count < len(_TOPICS):  # split and converted in C
            topics = tuple(map(from_bytes, _TOPICS[count](raw, start), _LITTLE))
        else:
            topics = tuple([from_bytes(raw[t : t + 32], "little") for t in range(start, end, 32)])
        append((topics, raw[end : end + size]))
        position = end + ((size + 7) & ~7)
    return logs


def _uniform_entries(raw: bytes) -> list[tuple[tuple[int, ...], bytes]] | None:
    """The entries of ``raw`` if all have one shape (``None`` otherwise), decoded a
    column at a time.

    A loop emits one event over and over (a batch of transfers, a loop of
    LOG3s), so a buffer of entries with the same topic count and data size is
    the common case.  It is decoded a column at a time: a column whose topics
    are all equal (an event's signature, a fixed sender) is decoded once,
    found so by comparing the buffer's 64-bit words a column at a time.
    """
    (header,) = _HEADER.unpack_from(raw, 0)
    count = header & 0xFF
    size = header >> SIZE_SHIFT
    stride = entry_bytes(count, size)
    used = len(raw)
    entries, rest = divmod(used, stride)
    if rest or entries < 2:
        return None
    # Entries are 8-byte aligned and padded (``entry_bytes``): a whole number of words.
    words = memoryview(raw).cast("Q")
    step = stride // 8
    if not _same_word_each_entry(words, 0, step, entries):
        return None
    columns = [
        _column(raw, words, start, stride, entries)
        for start in range(HEADER_BYTES, HEADER_BYTES + TOPIC_BYTES * count, TOPIC_BYTES)
    ]
    start = HEADER_BYTES + TOPIC_BYTES * count
    data = [raw[d : d + size] for d in range(start, start + stride * entries, stride)]
    if not count:
        return [((), d) for d in data]
    return list(zip(zip(*columns, strict=True), data, strict=True))


def _same_word_each_entry(words: memoryview, at: int, step: int, entries: int) -> bool:
    """Whether the 64-bit word at index ``at`` of every entry (``step`` words long) is
    the first entry's: one comparison of two word arrays."""
    return bool(words[at::step] == array("Q", words[at : at + 1]) * entries)


def _column(raw: bytes, words: memoryview, start: int, stride: int, entries: int) -> Sequence[int]:
    """The topics at ``start`` of each entry.  One decode when they are all equal (an
    event's signature, a fixed sender), checked a 64-bit word at a time."""
    at, step = start // 8, stride // 8
    for word in range(at, at + TOPIC_BYTES // 8):
        if not _same_word_each_entry(words, word, step, entries):
            from_bytes = int.from_bytes
            starts = range(start, start + stride * entries, stride)
            return [from_bytes(raw[t : t + TOPIC_BYTES], "little") for t in starts]
    return [int.from_bytes(raw[start : start + TOPIC_BYTES], "little")] * entries
