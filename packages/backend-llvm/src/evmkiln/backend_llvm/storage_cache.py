"""Storage slots a frame has already read or written, kept where native code can see them.

A Solidity contract reads the same slots over and over (snailtracer: 93,000
SLOADs of a few hundred slots), and each read used to cross into Python for
an answer the frame already knew.  Generated code now looks a slot up in this
table first; on a hit it charges the warm-read gas itself and never leaves
native code.  Only a miss crosses, and the crossing fills the table.

Why a hit is exact:

* a slot is entered only by this frame's own SLOAD or SSTORE, so it is in the
  transaction's accessed set, and a hit's price is the warm read's;
* the value is the one py-evm returned or was just told to store, and nothing
  else can change this account's storage while the frame runs without
  crossing into Python: another frame runs only inside a CALL/CREATE-family
  builtin.  Every host crossing other than the storage builtins therefore
  forgets the whole table (a DELEGATECALL child even writes this frame's own
  storage), and a reverted child cannot make an entered slot cold again,
  since the slot was warm before the child's snapshot.

Layout (what the translator's lookup reads): a direct-mapped array of
``capacity`` entries of :data:`ENTRY_BYTES`: the key as a little-endian word,
the value likewise, then the generation that entered it (u64).  An entry is
valid only when its generation equals ``ctx.sl_gen``; forgetting everything
is one increment.  A colliding slot simply replaces the entry.  The index is
:func:`slot_index`, mirrored by the translator.
"""

from __future__ import annotations

import ctypes
from typing import Any

from evmkiln.backend_llvm.context_layout import RuntimeContext

ENTRY_BYTES = 72
"""Key word, value word, generation."""
KEY_OFFSET, VALUE_OFFSET, GENERATION_OFFSET = 0, 32, 64
HASH_MULTIPLIER = 0x9E3779B97F4A7C15
"""Fibonacci hashing: the 64-bit xor of the key's limbs times 2^64/phi, upper bits kept."""
HASH_SHIFT = 32
INITIAL_CAPACITY = 64
MAX_CAPACITY = 4096
_MASK64 = (1 << 64) - 1

_EMPTY = (ctypes.c_char * ENTRY_BYTES)()
"""What every context points at before its first SLOAD: one entry no generation matches."""
EMPTY_TABLE_ADDRESS: int = ctypes.addressof(_EMPTY)


def slot_index(slot: int, mask: int) -> int:
    """The entry a slot lives in; the translator computes the same in LLVM IR."""
    folded = (slot ^ (slot >> 64) ^ (slot >> 128) ^ (slot >> 192)) & _MASK64
    return (((folded * HASH_MULTIPLIER) & _MASK64) >> HASH_SHIFT) & mask


def point_at_empty(ctx: RuntimeContext) -> None:
    """A fresh context: no table yet, generation 1 (the empty entry holds 0)."""
    ctx.sl_ptr = EMPTY_TABLE_ADDRESS
    ctx.sl_mask = 0
    ctx.sl_gen = 1


class StorageTable:
    """The table behind one frame's context; allocated at its first storage crossing."""

    __slots__ = ("_buffer", "_ctx", "_entered", "_mask")

    def __init__(self, ctx: RuntimeContext) -> None:
        self._ctx = ctx
        self._buffer: Any = None
        self._mask = 0
        self._entered = 0

    def remember(self, slot: int, value: int) -> None:
        """Enter ``slot``'s current value (after SLOAD, or SSTORE's new value)."""
        if self._buffer is None or (self._entered >= self._mask and self._mask + 1 < MAX_CAPACITY):
            self._grow()
        self._entered += 1
        ctx = self._ctx
        index = slot_index(slot, self._mask)
        ctypes.memmove(
            ctypes.addressof(self._buffer) + index * ENTRY_BYTES,
            slot.to_bytes(32, "little")
            + value.to_bytes(32, "little")
            + ctx.sl_gen.to_bytes(8, "little"),
            ENTRY_BYTES,
        )

    def forget(self) -> None:
        """Invalidate every entry: another frame may have run."""
        self._ctx.sl_gen += 1
        self._entered = 0

    def _grow(self) -> None:
        # Entries are not carried over: the next misses refill the bigger table.
        capacity = INITIAL_CAPACITY if self._buffer is None else 4 * (self._mask + 1)
        capacity = min(capacity, MAX_CAPACITY)
        self._buffer = (ctypes.c_char * (capacity * ENTRY_BYTES))()
        self._mask = capacity - 1
        self._entered = 0
        self._ctx.sl_ptr = ctypes.addressof(self._buffer)
        self._ctx.sl_mask = self._mask
