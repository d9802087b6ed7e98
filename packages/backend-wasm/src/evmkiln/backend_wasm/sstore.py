"""SSTORE priced in wasm, for a slot the frame's table knows with its original value.

An SSTORE crossing into the host costs more than the rest of a Solidity
storage write (erc20_transfer: 10,000 writes to two balances).  When the
frame's table of known slots (``SLOTS``, see :mod:`.layout`) holds the slot
with its original value -- the frame wrote the slot before, through the
builtin, which fills both in -- the price of the next write depends only on
the original, current and new values (EIP-2200, with EIP-2929's warm access
and EIP-3529's refunds), and the write itself can wait: nothing else reads
this account's storage until the frame crosses into a builtin that runs
another frame, or ends, and the runtime tells the host every value held back
at those points (:meth:`~evmkiln.backend_wasm.runtime._Slot.write_back`).

:func:`sstore_price` is the routine; the same rules as
:func:`evmkiln.builtins.impl.storage._sstore_price`, which the LLVM backend
mirrors too.  The caller does the static-frame and sentry checks before it
and charges the gas it returns after it.
"""

from __future__ import annotations

from evmkiln.backend_wasm.encoding import I32, I64, Func, FuncType, Instr
from evmkiln.backend_wasm.layout import (
    CTRL_REFUND,
    SL_DIRTY,
    SL_FLAGS,
    SL_ORIGINAL,
    SL_VALUE,
    SLOTS,
)
from evmkiln.builtins.impl.gas import (
    SSTORE_CLEARS_REFUND,
    SSTORE_RESET,
    SSTORE_SET,
    WARM_STORAGE_READ,
)

# Parameters: the entry's offset in SLOTS (i32), then the new value's limbs.
_ENTRY, _NEW = 0, 1
# Locals (i32 flags), after the five parameters.
_NOOP, _CLEAN, _ORIGINAL_ZERO, _CURRENT_ZERO, _NEW_ZERO, _BACK = range(5, 11)


Word = list[list[Instr]]
"""A word as the instructions that push each of its limbs, least significant first."""


def _entry_word(field: int) -> Word:
    """The entry's word at ``field``."""
    return [[("local.get", _ENTRY), ("i64.load", 3, SLOTS + field + 8 * i)] for i in range(4)]


def _new() -> Word:
    return [[("local.get", _NEW + i)] for i in range(4)]


def _equal(first: Word, second: Word) -> list[Instr]:
    """i32: the two words are equal."""
    out: list[Instr] = []
    for i in range(4):
        out += [*first[i], *second[i], ("i64.eq",)]
        if i:
            out += [("i32.and",)]
    return out


def _zero(word: Word) -> list[Instr]:
    """i32: the word is zero."""
    out: list[Instr] = []
    for i in range(4):
        out += word[i]
        if i:
            out += [("i64.or",)]
    return [*out, ("i64.eqz",)]


def _select(if_true: int, if_false: int, flag: int) -> list[Instr]:
    return [("i64.const", if_true), ("i64.const", if_false), ("local.get", flag), ("select",)]


def sstore_price() -> Func:
    """``sstore_price(entry, new) -> gas``: price the write, add its refund, hold the value.

    Adds the refund to ``CTRL_REFUND``, stores ``new`` as the entry's value
    and marks it dirty.
    """
    body: list[Instr] = []
    body += [*_equal(_entry_word(SL_VALUE), _new()), ("local.set", _NOOP)]
    body += [*_equal(_entry_word(SL_ORIGINAL), _entry_word(SL_VALUE)), ("local.set", _CLEAN)]
    body += [*_equal(_entry_word(SL_ORIGINAL), _new()), ("local.set", _BACK)]
    body += [*_zero(_entry_word(SL_ORIGINAL)), ("local.set", _ORIGINAL_ZERO)]
    body += [*_zero(_entry_word(SL_VALUE)), ("local.set", _CURRENT_ZERO)]
    body += [*_zero(_new()), ("local.set", _NEW_ZERO)]
    # The refund: 0 for a no-op; for a clean slot, the clearing refund if a
    # non-zero original is zeroed; for a dirty one, clearing refunds given or
    # taken back as the value leaves or returns to zero, plus the restoring
    # refund when the value goes back to the original.
    clears_given = [
        ("i64.const", SSTORE_CLEARS_REFUND),
        ("i64.const", 0),
        ("local.get", _ORIGINAL_ZERO),
        ("i32.eqz",),
        ("local.get", _NEW_ZERO),
        ("i32.and",),
        ("select",),
    ]
    clears_taken = [
        ("i64.const", -SSTORE_CLEARS_REFUND),
        ("i64.const", 0),
        ("local.get", _ORIGINAL_ZERO),
        ("i32.eqz",),
        ("local.get", _CURRENT_ZERO),
        ("i32.and",),
        ("select",),
    ]
    restored = [
        *_select(SSTORE_SET - WARM_STORAGE_READ, SSTORE_RESET - WARM_STORAGE_READ, _ORIGINAL_ZERO),
        ("i64.const", 0),
        ("local.get", _BACK),
        ("select",),
    ]
    dirty_refund = [*clears_given, *clears_taken, ("i64.add",), *restored, ("i64.add",)]
    refund = [
        ("i64.const", 0),
        *clears_given,
        *dirty_refund,
        ("local.get", _CLEAN),
        ("select",),
        ("local.get", _NOOP),
        ("select",),
    ]
    body += [("i32.const", 0), ("i32.const", 0), ("i64.load", 3, CTRL_REFUND), *refund]
    body += [("i64.add",), ("i64.store", 3, CTRL_REFUND)]
    # Hold the new value; the entry is now dirty.
    for i in range(4):
        body += [("local.get", _ENTRY), ("local.get", _NEW + i)]
        body += [("i64.store", 3, SLOTS + SL_VALUE + 8 * i)]
    body += [("local.get", _ENTRY), ("local.get", _ENTRY), ("i64.load", 3, SLOTS + SL_FLAGS)]
    body += [("i64.const", SL_DIRTY), ("i64.or",), ("i64.store", 3, SLOTS + SL_FLAGS)]
    # The gas: the warm access for a no-op or a dirty slot, else setting or resetting.
    body += [
        ("i64.const", WARM_STORAGE_READ),
        *_select(SSTORE_SET, SSTORE_RESET, _ORIGINAL_ZERO),
        ("i64.const", WARM_STORAGE_READ),
        ("local.get", _CLEAN),
        ("select",),
        ("local.get", _NOOP),
        ("select",),
    ]
    return Func("sstore_price", FuncType((I32, I64, I64, I64, I64), (I64,)), [I32] * 6, body)
