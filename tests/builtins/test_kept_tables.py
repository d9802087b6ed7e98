"""The shared policy of storage tables kept past their frame."""

from __future__ import annotations

from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT
from evmkiln.builtins.kept_tables import keep_bounded, worth_keeping


def test_only_small_tables_of_nested_frames_that_succeeded_are_kept() -> None:
    assert worth_keeping(True, 1, 1) and worth_keeping(True, 3, KEPT_ENTRIES_LIMIT)
    assert not worth_keeping(False, 1, 1)  # reverted or halted
    assert not worth_keeping(True, 0, 1)  # top-level
    assert not worth_keeping(True, 1, 0)  # nothing in the table
    assert not worth_keeping(True, 1, KEPT_ENTRIES_LIMIT + 1)


def test_a_new_table_displaces_its_accounts_then_the_oldest() -> None:
    kept: dict[bytes, str] = {}
    assert keep_bounded(kept, b"a", "a1", 2) is None
    assert keep_bounded(kept, b"b", "b1", 2) is None
    assert keep_bounded(kept, b"a", "a2", 2) == "a1"  # same account: the earlier one
    assert list(kept) == [b"b", b"a"]
    assert keep_bounded(kept, b"c", "c1", 2) == "b1"  # full: the oldest
    assert kept == {b"a": "a2", b"c": "c1"}


def test_an_oldest_entry_taken_meanwhile_displaces_nothing() -> None:
    """Another thread may pop the oldest key between the copy and the pop."""

    class Racing(dict[bytes, str]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            keys = list(super().__iter__())
            super().pop(keys[0])  # taken by the other thread
            return iter(keys)

    kept = Racing({b"a": "a1", b"b": "b1"})
    assert keep_bounded(kept, b"c", "c1", 2) is None
    assert dict(kept) == {b"b": "b1", b"c": "c1"}
