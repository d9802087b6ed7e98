"""The flat database's storage stamps vouch only for storage that did not change.

A native backend keeps a frame's storage table for the next frame on the same
account and trusts it while ``storage_stamp(address)`` hands out the stamp it
took.  So the property: whenever the stamp is still the same, every slot's
current and original value is what it was when the stamp was taken, and every
slot warm then is warm still.
"""

from __future__ import annotations

from typing import Any

from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context.flat_state import flat_account_db_class
from evmkiln.context.state_layers import StateLayers

ADDRESSES = [bytes([i]) * 20 for i in (1, 2)]
SLOTS = (0, 1, 2)

_address = st.sampled_from(ADDRESSES)
_slot = st.sampled_from(SLOTS)
OPERATIONS = st.one_of(
    st.tuples(st.just("set_storage"), _address, _slot, st.integers(0, 3)),
    st.tuples(st.just("write_slot"), _address, _slot, st.integers(0, 3)),
    st.tuples(st.just("delete_storage"), _address),
    st.tuples(st.just("load_slot"), _address, _slot),
    st.tuples(st.just("mark_storage_warm"), _address, _slot),
    st.tuples(st.just("record")),
    st.tuples(st.just("discard")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("lock_changes")),
    st.tuples(st.just("make_state_root")),
    st.tuples(st.just("take_stamp"), _address),
)


def _observe(db: Any, address: bytes) -> tuple[tuple[int, int, bool], ...]:
    return tuple(
        (*db.current_and_original(address, slot), db.is_storage_warm(address, slot))
        for slot in SLOTS
    )


def _still_true(before: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Values and originals unchanged, and nothing warm then is cold now."""
    return all(b[:2] == n[:2] and (n[2] or not b[2]) for b, n in zip(before, now, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(OPERATIONS, max_size=40))
def test_an_unchanged_stamp_means_unchanged_storage(operations: list[tuple[Any, ...]]) -> None:
    db = flat_account_db_class(AccountDB, StateLayers())(AtomicDB())
    checkpoints: list[Any] = []
    taken: dict[bytes, tuple[object, tuple[Any, ...]]] = {}
    for name, *args in operations:
        if name == "record":
            checkpoints.append(db.record())
        elif name == "discard":
            if checkpoints:
                db.discard(checkpoints.pop())
        elif name == "commit":
            if checkpoints:
                db.commit(checkpoints.pop())
        elif name in ("lock_changes", "make_state_root"):
            if checkpoints:  # py-evm does these only between transactions
                continue
            getattr(db, name)()
        elif name == "take_stamp":
            taken[args[0]] = (db.storage_stamp(args[0]), _observe(db, args[0]))
        else:
            getattr(db, name)(*args)
        for address, (stamp, before) in taken.items():
            now = _observe(db, address)
            if db.storage_stamp(address) is stamp:
                assert _still_true(before, now), (name, args)


def test_each_kind_of_change_drops_the_stamp() -> None:
    db = flat_account_db_class(AccountDB, StateLayers())(AtomicDB())
    a, b = ADDRESSES
    stamp = db.storage_stamp(a)
    # Reads, warming, writes elsewhere and commits keep it.
    db.load_slot(a, 1)
    db.mark_storage_warm(a, 2)
    db.write_slot(b, 1, 5)
    db.commit(db.record())
    assert db.storage_stamp(a) is stamp
    for change in (
        lambda: db.write_slot(a, 1, 7),
        lambda: db.set_storage(a, 2, 1),
        lambda: db.delete_storage(a),
        lambda: db.discard(db.record()),  # even an empty revert: it may turn slots cold
        db.lock_changes,
        db.make_state_root,
    ):
        change()
        fresh = db.storage_stamp(a)
        assert fresh is not stamp
        stamp = fresh
