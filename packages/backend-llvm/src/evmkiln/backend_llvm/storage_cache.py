"""Storage slots a frame has already read or written, kept where native code can see them.

A Solidity contract reads the same slots over and over (snailtracer: 93,000
SLOADs of a few hundred slots) and writes the same few again and again
(erc20_transfer: 10,000 SSTOREs to two balances), and each used to cross into
Python for an answer the frame already knew.  Generated code now looks a slot
up in this table first.  On a hit, SLOAD charges the warm read and SSTORE
prices the write by EIP-2200/3529 from the entry's current and original
values, records the refund in ``ctx.refund`` and updates the entry, all
without leaving native code.  Only a miss crosses, and the crossing fills
the table.

Native writes are held back: the entry is marked dirty and py-evm is told the
value when it could next be observed -- before a builtin that runs another
frame, when a dirty entry is replaced, and when the frame ends.  Only the
last value of each slot reaches py-evm's journal; nothing can read the
account's storage in between, and reverting the frame discards the writes
either way.

Why a hit is exact:

* a slot is entered only by this frame's own SLOAD or SSTORE, so it is in the
  transaction's accessed set, and a hit's price is the warm read's;
* the value is the one py-evm returned or was just told to store, and nothing
  else can change this account's storage while the frame runs without
  crossing into Python: another frame runs only inside a CALL/CREATE-family
  builtin.  Every host crossing other than the storage builtins therefore
  forgets the whole table (a DELEGATECALL child even writes this frame's own
  storage), and a reverted child cannot make an entered slot cold again,
  since the slot was warm before the child's snapshot;
* a table kept past its frame for the next frame on the same account (see
  ``RunState.end`` in :mod:`evmkiln.backend_llvm.builtin_bridge`) is used
  only while the host's storage stamp of the account is the one taken when
  the frame ended: nothing wrote the storage, nothing was reverted, the
  transaction is the same.

Layout (what the translator's lookup reads): a direct-mapped array of
``capacity`` entries of :data:`ENTRY_BYTES`: the key, the current value and
the original (transaction-start) value as little-endian words, the entry's
tag and flags (u64 each).  The tag is the generation that entered it,
doubled, plus one for a transient slot (:func:`entry_tag`): an entry is
valid for a storage lookup only when its tag is ``2 * ctx.sl_gen`` and for a
transient one only when it is ``2 * ctx.sl_gen + 1``, one comparison either
way, and forgetting everything is one increment.  Every storage entry knows
its original value (:data:`ORIGINAL_KNOWN`): the SLOAD and SSTORE crossings
enter it with the current one, so native SSTORE prices every write to a slot
in the table and a read-modify-write crosses only once.  A colliding slot
replaces the entry.  The index is :func:`slot_index`, mirrored by the
translator.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from evmkiln.backend_llvm.context_layout import RuntimeContext

ENTRY_BYTES = 112
"""Key, value and original words; generation and flags."""
KEY_OFFSET, VALUE_OFFSET, ORIGINAL_OFFSET, GENERATION_OFFSET, FLAGS_OFFSET = 0, 32, 64, 96, 104
ORIGINAL_KNOWN = 1
"""The entry's original value is filled in: native SSTORE may price a write."""
DIRTY = 2
"""Native SSTORE (or TSTORE) changed the value and py-evm has not been told yet."""
TRANSIENT = 4
"""The entry is a transient slot (EIP-1153), entered by a TLOAD or TSTORE crossing.

Its tag is odd (:func:`entry_tag`): SLOAD and SSTORE hit only storage
entries, TLOAD and TSTORE only transient ones, so a slot key used in both
spaces never answers for the other."""
TRANSIENT_SALT = 0x5DEECE66DB3C6EF3
"""Xored into a transient slot's folded key, so that slot ``k`` of storage and of
transient storage usually live in different entries."""
HASH_MULTIPLIER = 0x9E3779B97F4A7C15
"""Fibonacci hashing: the 64-bit xor of the key's limbs times 2^64/phi, upper bits kept."""
HASH_SHIFT = 32
INITIAL_CAPACITY = 64
MAX_CAPACITY = 4096
_MASK64 = (1 << 64) - 1
_ORIGINAL_KNOWN = ORIGINAL_KNOWN.to_bytes(8, "little")
_TRANSIENT = TRANSIENT.to_bytes(8, "little")
_ZERO_WORD = bytes(32)
_ENTRY_WORDS = ENTRY_BYTES // 8
_GENERATION_WORD = GENERATION_OFFSET // 8
_FLAGS_WORD = FLAGS_OFFSET // 8

_EMPTY = (ctypes.c_char * ENTRY_BYTES)()
"""What every context points at before its first SLOAD: one entry no generation matches."""
EMPTY_TABLE_ADDRESS: int = ctypes.addressof(_EMPTY)


def entry_tag(generation: int, transient: bool) -> int:
    """What an entry entered in ``generation`` holds in its tag word."""
    return 2 * generation + transient


def slot_index(slot: int, mask: int, transient: bool = False) -> int:
    """The entry a slot lives in; the translator computes the same in LLVM IR."""
    folded = (slot ^ (slot >> 64) ^ (slot >> 128) ^ (slot >> 192)) & _MASK64
    if transient:
        folded ^= TRANSIENT_SALT
    return (((folded * HASH_MULTIPLIER) & _MASK64) >> HASH_SHIFT) & mask


def point_at_empty(ctx: RuntimeContext) -> None:
    """A fresh context: no table yet, generation 1 (the empty entry holds 0)."""
    ctx.refund = 0
    ctx.sl_ptr = EMPTY_TABLE_ADDRESS
    ctx.sl_mask = 0
    ctx.sl_gen = 1


WriteBack = Callable[[int, int], None]
"""``write_back(slot, value)``: tell py-evm a slot's value (the host's ``set_storage``,
or ``set_transient`` for transient slots)."""


class StorageTable:
    """The table behind one context; allocated at its first storage crossing.

    A context serves one frame at a time and is then reused
    (:meth:`reset`): the buffer is kept and the generation moves on.
    """

    __slots__ = (
        "_buffer",
        "_bytes",
        "_ctx",
        "_entered",
        "_mask",
        "_words",
        "_writable",
        "_write_back",
        "_write_back_transient",
    )

    def __init__(
        self, ctx: RuntimeContext, write_back: WriteBack, write_back_transient: WriteBack
    ) -> None:
        self._ctx = ctx
        self._write_back = write_back
        self._write_back_transient = write_back_transient
        self._buffer: Any = None
        self._bytes = memoryview(b"")
        self._words = memoryview(b"").cast("Q")
        self._mask = 0
        self._entered = 0
        self._writable: set[int] = set()
        """Indices of the entries entered this generation: the only ones that can be dirty."""

    def remember(self, slot: int, value: int, original: int) -> None:
        """Enter ``slot``'s current value (after SLOAD, or SSTORE's new value) and
        its original value, with which native SSTORE prices later writes.

        Every crossing that reads a slot for the first time comes here: the
        common case (room left in the table) does :meth:`_put`'s and
        :meth:`_room`'s steps in this one method.
        """
        mask = self._mask
        if self._buffer is None or self._entered >= mask:
            self._put(slot, value, original.to_bytes(32, "little"), transient=False)
            return
        index = slot_index(slot, mask)
        writable = self._writable
        if index in writable:
            self._write_back_entry(index)
        writable.add(index)
        self._entered += 1
        at = index * ENTRY_BYTES
        self._bytes[at : at + ENTRY_BYTES] = (
            slot.to_bytes(32, "little")
            + value.to_bytes(32, "little")
            + original.to_bytes(32, "little")
            + entry_tag(self._ctx.sl_gen, False).to_bytes(8, "little")
            + _ORIGINAL_KNOWN
        )

    def remember_transient(self, slot: int, value: int) -> None:
        """Enter a transient slot's value (after TLOAD, or TSTORE's new value)."""
        self._put(slot, value, _ZERO_WORD, transient=True)

    def _put(self, slot: int, value: int, original: bytes, *, transient: bool) -> None:
        at = self._room(slot, transient) * ENTRY_BYTES
        self._bytes[at : at + ENTRY_BYTES] = (
            slot.to_bytes(32, "little")
            + value.to_bytes(32, "little")
            + original
            + entry_tag(self._ctx.sl_gen, transient).to_bytes(8, "little")
            + (_TRANSIENT if transient else _ORIGINAL_KNOWN)
        )

    def _room(self, slot: int, transient: bool) -> int:
        """The entry ``slot`` goes to, the table grown first if it is full and a value
        held back in that entry told to py-evm."""
        full = self._entered >= self._mask and self._mask + 1 < MAX_CAPACITY
        if self._buffer is None or full:
            self._grow()
        self._entered += 1
        index = slot_index(slot, self._mask, transient)
        if index in self._writable:
            self._write_back_entry(index)
        self._writable.add(index)
        return index

    def reset(self) -> None:
        """Start another frame on the same context: nothing entered is valid any more.

        Must follow :meth:`write_back` (nothing dirty is dropped here).
        """
        if self._buffer is None:
            return  # nothing entered, and only a native SSTORE (on an entry) refunds
        self._writable.clear()
        self._entered = 0
        self._ctx.refund = 0
        self._ctx.sl_gen += 1

    def end_frame(self) -> None:
        """:meth:`write_back`, then :meth:`reset` (even if telling py-evm failed).

        A frame that entered nothing since the generation last moved and has
        no refund left in the context (most small frames) costs one test.
        """
        if not self._entered and not self._writable and not self._ctx.refund:
            return
        try:
            self.write_back()
        finally:
            self.reset()

    def entered_count(self) -> int:
        """Entries entered since the table was last forgotten (the ones write-back checks)."""
        return len(self._writable)

    def forget(self) -> None:
        """Invalidate every entry: another frame may have changed this account's storage."""
        self.write_back()
        self._writable.clear()
        self._ctx.sl_gen += 1
        self._entered = 0

    def write_back(self) -> None:
        """Tell py-evm every value native SSTOREs have left in the table.

        The entries stay valid and writable: native SSTORE may dirty them
        again (after a child frame that left this account's storage alone).
        """
        words = self._words
        for index in self._writable:
            # Most entries were only read: the flags word alone says so, without a call.
            if words[index * _ENTRY_WORDS + _FLAGS_WORD] & DIRTY:
                self._write_back_entry(index)

    def _write_back_entry(self, index: int) -> None:
        # Generation and flags first, through a u64 view: most entries were only read.
        words = self._words
        at = index * _ENTRY_WORDS
        flags = words[at + _FLAGS_WORD]
        if words[at + _GENERATION_WORD] >> 1 != self._ctx.sl_gen or not flags & DIRTY:
            return
        raw = self._bytes
        base = index * ENTRY_BYTES
        slot = int.from_bytes(raw[base + KEY_OFFSET : base + VALUE_OFFSET], "little")
        value = int.from_bytes(raw[base + VALUE_OFFSET : base + ORIGINAL_OFFSET], "little")
        if flags & TRANSIENT:
            self._write_back_transient(slot, value)
        else:
            self._write_back(slot, value)
        words[at + _FLAGS_WORD] = flags & ~DIRTY

    def _grow(self) -> None:
        # Entries are not carried over: the next misses refill the bigger table.
        if self._buffer is not None:
            self.write_back()
            self._writable.clear()
        capacity = INITIAL_CAPACITY if self._buffer is None else 4 * (self._mask + 1)
        capacity = min(capacity, MAX_CAPACITY)
        self._buffer = (ctypes.c_char * (capacity * ENTRY_BYTES))()
        self._bytes = memoryview(self._buffer).cast("B")
        self._words = self._bytes.cast("Q")
        self._mask = capacity - 1
        self._entered = 0
        self._ctx.sl_ptr = ctypes.addressof(self._buffer)
        self._ctx.sl_mask = self._mask
