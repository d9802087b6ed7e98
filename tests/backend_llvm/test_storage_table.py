"""The LLVM backend's table of known storage slots, as generated code reads it.

The translator looks a slot up at :func:`slot_index` and trusts an entry
whose tag is the context's generation: these tests read the raw entries the
table writes, through both the in-line path of ``remember`` and the general
one (growth, a replaced entry holding a value back, transient slots).
"""

from __future__ import annotations

import ctypes

from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.backend_llvm.context_layout import RuntimeContext
from evmkiln.backend_llvm.storage_cache import (
    DIRTY,
    ENTRY_BYTES,
    FLAGS_OFFSET,
    GENERATION_OFFSET,
    INITIAL_CAPACITY,
    KEY_OFFSET,
    MAX_CAPACITY,
    ORIGINAL_KNOWN,
    ORIGINAL_OFFSET,
    TRANSIENT,
    VALUE_OFFSET,
    StorageTable,
    entry_tag,
    point_at_empty,
    slot_index,
)

WORDS = st.integers(min_value=0, max_value=2**256 - 1)


def _table() -> tuple[RuntimeContext, StorageTable, list[tuple[str, int, int]]]:
    ctx = RuntimeContext()
    point_at_empty(ctx)
    told: list[tuple[str, int, int]] = []
    table = StorageTable(
        ctx,
        lambda slot, value: told.append(("storage", slot, value)),
        lambda slot, value: told.append(("transient", slot, value)),
    )
    return ctx, table, told


def _entry(ctx: RuntimeContext, slot: int, transient: bool = False) -> dict[str, int]:
    """The raw entry generated code would read for ``slot``."""
    index = slot_index(slot, ctx.sl_mask, transient)
    assert ctx.sl_ptr is not None
    raw = ctypes.string_at(ctx.sl_ptr + index * ENTRY_BYTES, ENTRY_BYTES)

    def word(at: int, size: int = 32) -> int:
        return int.from_bytes(raw[at : at + size], "little")

    return {
        "key": word(KEY_OFFSET),
        "value": word(VALUE_OFFSET),
        "original": word(ORIGINAL_OFFSET),
        "tag": word(GENERATION_OFFSET, 8),
        "flags": word(FLAGS_OFFSET, 8),
    }


def _set_flags(ctx: RuntimeContext, slot: int, flags: int) -> None:
    """What generated SSTORE does to an entry it dirties."""
    assert ctx.sl_ptr is not None
    at = ctx.sl_ptr + slot_index(slot, ctx.sl_mask) * ENTRY_BYTES + FLAGS_OFFSET
    ctypes.c_uint64.from_address(at).value = flags


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(WORDS, WORDS, WORDS), min_size=1, max_size=300))
def test_every_remembered_slot_reads_back_as_generated_code_sees_it(
    entries: list[tuple[int, int, int]],
) -> None:
    ctx, table, told = _table()
    for slot, value, original in entries:
        table.remember(slot, value, original)
        assert _entry(ctx, slot) == {
            "key": slot,
            "value": value,
            "original": original,
            "tag": entry_tag(ctx.sl_gen, False),
            "flags": ORIGINAL_KNOWN,
        }
    assert told == []  # nothing was dirty
    assert INITIAL_CAPACITY - 1 <= ctx.sl_mask < MAX_CAPACITY


def test_the_table_grows_once_full_and_refills_from_misses() -> None:
    ctx, table, _ = _table()
    table.remember(1, 10, 10)
    first = ctx.sl_ptr
    assert ctx.sl_mask == INITIAL_CAPACITY - 1
    for slot in range(2, INITIAL_CAPACITY + 2):
        table.remember(slot, slot, 0)
    assert ctx.sl_mask == 4 * INITIAL_CAPACITY - 1
    assert ctx.sl_ptr != first
    last = INITIAL_CAPACITY + 1
    assert _entry(ctx, last)["value"] == last
    # Entries are not carried over a growth: slot 1 is not in the new table.
    assert _entry(ctx, 1)["key"] != 1 or _entry(ctx, 1)["tag"] != entry_tag(ctx.sl_gen, False)


def _colliding(slot: int, mask: int) -> int:
    index = slot_index(slot, mask)
    other = slot + 1
    while slot_index(other, mask) != index:
        other += 1
    return other


def test_a_replaced_entry_tells_its_held_back_value_first() -> None:
    ctx, table, told = _table()
    table.remember(5, 7, 7)
    _set_flags(ctx, 5, ORIGINAL_KNOWN | DIRTY)
    other = _colliding(5, ctx.sl_mask)
    table.remember(other, 1, 1)
    assert told == [("storage", 5, 7)]
    assert _entry(ctx, other)["key"] == other


def test_transient_and_storage_entries_do_not_answer_for_each_other() -> None:
    ctx, table, told = _table()
    table.remember(0, 0, 0)  # allocates the table
    slot = 3
    while slot_index(slot, ctx.sl_mask) == slot_index(slot, ctx.sl_mask, True):
        slot += 1
    table.remember(slot, 30, 29)
    table.remember_transient(slot, 31)
    storage, transient = _entry(ctx, slot), _entry(ctx, slot, transient=True)
    assert (storage["value"], storage["original"], storage["flags"]) == (30, 29, ORIGINAL_KNOWN)
    assert storage["tag"] == entry_tag(ctx.sl_gen, False)
    assert (transient["value"], transient["flags"]) == (31, TRANSIENT)
    assert transient["tag"] == entry_tag(ctx.sl_gen, True)
    _set_flags(ctx, slot, ORIGINAL_KNOWN | DIRTY)
    table.end_frame()
    assert told == [("storage", slot, 30)]
    # The next frame on this context finds nothing valid.
    assert _entry(ctx, slot)["tag"] != entry_tag(ctx.sl_gen, False)
    assert _entry(ctx, slot, transient=True)["tag"] != entry_tag(ctx.sl_gen, True)
