"""Frame memory: expansion and its gas, reads, writes and copy costs.

Every opcode that touches memory (MLOAD/MSTORE and RETURN in the IR, the
copying, hashing, logging and calling builtins) goes through :func:`expand`
before reading or writing, so the EVM's quadratic memory price is charged in
exactly one place.  The price is py-evm's: expanding from ``a`` to ``b`` words
costs ``cost(b) - cost(a)`` with ``cost(w) = 3*w + w*w // 512``.

Memory is capped at :data:`MEMORY_LIMIT` bytes.  An expansion whose end lies
beyond it halts with OUT_OF_GAS without looking at the gas left.  Reaching
2**32 bytes costs about 3.5e13 gas, far beyond any block gas limit, so the cap
only differs from the EVM's pure gas rule for frames given absurd amounts of
gas -- where py-evm itself would try to allocate the memory and fail.  revm
applies the same cap.  The cap keeps every offset and size that survives
expansion small enough for native backends to hold in 64-bit registers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame

MEMORY_LIMIT = 1 << 32
"""Largest memory size in bytes a frame may reach (see the module docstring)."""

GAS_MEMORY_WORD = 3
GAS_MEMORY_QUADRATIC_DENOMINATOR = 512
GAS_COPY_WORD = 3


def word_count(size: int) -> int:
    """Number of 32-byte words needed to hold ``size`` bytes."""
    return (size + 31) >> 5


def memory_cost(words: int) -> int:
    """Total gas paid for a memory of ``words`` words."""
    return GAS_MEMORY_WORD * words + words * words // GAS_MEMORY_QUADRATIC_DENOMINATOR


def copy_words_gas(size: int) -> int:
    """The per-word gas of the copying opcodes (3 per started word)."""
    return GAS_COPY_WORD * ((size + 31) >> 5)


def expand(frame: Frame, offset: int, size: int) -> None:
    """Make ``memory[offset:offset+size]`` addressable, charging the expansion.

    A zero ``size`` never expands, whatever the offset (the EVM ignores the
    offset of an empty range).  ``offset`` and ``size`` are raw stack words.
    Halts with OUT_OF_GAS when the expansion costs more than the gas left or
    ends beyond :data:`MEMORY_LIMIT`.
    """
    if not size:
        return
    end = offset + size
    memory = frame.memory
    current = len(memory)
    if end <= current:
        return
    _grow(frame, memory, current, end)


def _grow(frame: Frame, memory: bytearray, current: int, end: int) -> None:
    # Kept out of line so that the common no-growth path of ``expand`` stays short.
    if end > MEMORY_LIMIT:
        raise ExceptionalHalt(HaltKind.OUT_OF_GAS, f"memory expansion to {end} bytes")
    new_words = (end + 31) >> 5
    # ``current`` is always a whole number of words.
    cost = memory_cost(new_words) - memory_cost(current >> 5)
    if cost > frame.gas:
        raise ExceptionalHalt(
            HaltKind.OUT_OF_GAS,
            "memory expansion",
            needed=cost,
            remaining=frame.gas,
            reason=f"Expanding memory {current} -> {new_words << 5}",
        )
    frame.gas -= cost
    memory.extend(bytes((new_words << 5) - current))


def read(frame: Frame, offset: int, size: int) -> bytes:
    """Copy ``size`` bytes out of memory (already expanded); empty for ``size == 0``."""
    if not size:
        return b""
    return bytes(frame.memory[offset : offset + size])


def write(frame: Frame, offset: int, data: bytes) -> None:
    """Store ``data`` at ``offset`` (memory must already cover the range)."""
    if data:
        frame.memory[offset : offset + len(data)] = data


def write_padded(frame: Frame, offset: int, source: bytes, start: int, size: int) -> None:
    """Store ``source[start:start+size]`` at ``offset``, zero-filled past the source's end.

    This is the EVM's copy-from-buffer rule (CALLDATACOPY, CODECOPY,
    EXTCODECOPY): bytes beyond the source read as zero.  ``start`` may be any
    stack word; memory must already cover ``offset .. offset+size``.
    """
    if not size:
        return
    memory = frame.memory
    available = len(source) - start if start < len(source) else 0
    if available >= size:
        memory[offset : offset + size] = source[start : start + size]
        return
    if available > 0:
        memory[offset : offset + available] = source[start:]
    else:
        available = 0
    memory[offset + available : offset + size] = bytes(size - available)
