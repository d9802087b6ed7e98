"""evmkiln's transient storage against py-evm's, operation by operation.

Random sequences of writes, reads, clears and nested checkpoints (committed
or discarded in any order py-evm accepts) run on both; every read and the final
contents must agree, and both must refuse the same checkpoint misuse.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth.db.journal import get_next_checkpoint
from eth.vm.transient_storage import TransientStorage
from eth_typing import Address
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import make_vm_class
from evmkiln.context.transient_storage import JournaledTransientStorage

ADDRESSES = [Address(bytes([n]) * 20) for n in range(1, 4)]
SLOTS = [0, 1, 2**256 - 1]
VALUES = [b"", b"\x01", b"\xff" * 32]

operation = st.one_of(
    st.tuples(
        st.just("set"), st.sampled_from(ADDRESSES), st.sampled_from(SLOTS), st.sampled_from(VALUES)
    ),
    st.tuples(st.just("get"), st.sampled_from(ADDRESSES), st.sampled_from(SLOTS)),
    st.tuples(st.just("record")),
    st.tuples(st.just("commit"), st.integers(0, 3)),
    st.tuples(st.just("discard"), st.integers(0, 3)),
    st.tuples(st.just("clear")),
)


def _contents(storage: Any) -> dict[tuple[bytes, int], bytes]:
    return {(a, s): storage.get_transient_storage(a, s) for a in ADDRESSES for s in SLOTS}


@settings(max_examples=400, deadline=None)
@given(st.lists(operation, max_size=40))
def test_same_reads_and_contents_as_pyevm(operations: list[tuple[Any, ...]]) -> None:
    ours, theirs = JournaledTransientStorage(), TransientStorage()
    open_checkpoints: list[Any] = []
    for op in operations:
        kind = op[0]
        if kind == "set":
            ours.set_transient_storage(op[1], op[2], op[3])
            theirs.set_transient_storage(op[1], op[2], op[3])
        elif kind == "get":
            assert ours.get_transient_storage(op[1], op[2]) == theirs.get_transient_storage(
                op[1], op[2]
            )
        elif kind == "record":
            checkpoint = get_next_checkpoint()
            ours.record(checkpoint)
            theirs.record(checkpoint)
            open_checkpoints.append(checkpoint)
        elif kind in ("commit", "discard"):
            if not open_checkpoints:
                continue
            # Closing an older checkpoint closes every newer one with it.
            index = max(0, len(open_checkpoints) - 1 - op[1])
            checkpoint = open_checkpoints[index]
            del open_checkpoints[index:]
            getattr(ours, kind)(checkpoint)
            getattr(theirs, kind)(checkpoint)
        else:
            ours.clear()
            theirs.clear()
        assert _contents(ours) == _contents(theirs)


def test_closing_an_unknown_checkpoint_is_refused_and_closes_nothing() -> None:
    storage = JournaledTransientStorage()
    open_one = get_next_checkpoint()
    storage.record(open_one)
    storage.set_transient_storage(ADDRESSES[0], 1, b"\x07")
    with pytest.raises(ValueError, match="not active"):
        storage.commit(get_next_checkpoint())
    with pytest.raises(ValueError, match="not active"):
        storage.discard(get_next_checkpoint())
    storage.discard(open_one)  # still open: the write is undone
    assert storage.get_transient_storage(ADDRESSES[0], 1) == b""


def test_invalid_keys_and_values_are_refused_as_pyevm_refuses_them() -> None:
    from eth_utils import ValidationError

    storage = JournaledTransientStorage()
    with pytest.raises(ValidationError):
        storage.set_transient_storage(Address(b"\x01" * 19), 0, b"")
    with pytest.raises(ValidationError):
        storage.set_transient_storage(ADDRESSES[0], 2**256, b"")
    with pytest.raises(ValidationError):
        storage.set_transient_storage(ADDRESSES[0], 0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        storage.get_transient_storage(ADDRESSES[0], -1)


def test_evmkiln_states_use_it_and_stock_states_do_not() -> None:
    flat = make_vm_class("ir", "cancun", persistent_cache=False)
    stock = make_vm_class("ir", "cancun", persistent_cache=False, flat_state=False)
    assert flat.get_state_class()._transient_storage_class is JournaledTransientStorage
    assert stock.get_state_class()._transient_storage_class is TransientStorage


state_operation = st.one_of(
    operation.filter(lambda op: op[0] not in ("record", "commit", "discard")),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("commit"), st.integers(0, 3)),
    st.tuples(st.just("revert"), st.integers(0, 3)),
    st.tuples(
        st.just("sstore"), st.sampled_from(ADDRESSES), st.sampled_from(SLOTS), st.integers(0, 2)
    ),
)


def _states() -> tuple[Any, Any]:
    import sys
    from pathlib import Path

    from eth.vm.forks.cancun import CancunVM

    sys.path.insert(0, str(Path(__file__).parent))
    from message_harness import make_state

    flat = make_vm_class("ir", "cancun", persistent_cache=False)
    return make_state(flat, {}), make_state(CancunVM, {})


@settings(max_examples=200, deadline=None)
@given(st.lists(state_operation, max_size=40))
def test_a_flat_states_snapshots_cover_transient_storage_as_pyevms_do(
    operations: list[tuple[Any, ...]],
) -> None:
    """On the flat state the transient storage journals into the account database's
    journal, so one checkpoint covers both: snapshots, commits and reverts in any
    order py-evm accepts leave the same transient and account storage as py-evm's."""
    ours, theirs = _states()
    snapshots: list[tuple[Any, Any]] = []
    for op in operations:
        kind = op[0]
        if kind == "set":
            for state in (ours, theirs):
                state.set_transient_storage(op[1], op[2], op[3])
        elif kind == "get":
            assert ours.get_transient_storage(op[1], op[2]) == theirs.get_transient_storage(
                op[1], op[2]
            )
        elif kind == "sstore":
            for state in (ours, theirs):
                state.set_storage(op[1], op[2], op[3])
        elif kind == "snapshot":
            snapshots.append((ours.snapshot(), theirs.snapshot()))
        elif kind in ("commit", "revert"):
            if not snapshots:
                continue
            index = max(0, len(snapshots) - 1 - op[1])
            pair = snapshots[index]
            del snapshots[index:]
            getattr(ours, kind)(pair[0])
            getattr(theirs, kind)(pair[1])
        else:
            ours.clear_transient_storage()
            theirs.clear_transient_storage()
        assert _contents(ours) == _contents(theirs)
        storage = [(a, s) for a in ADDRESSES for s in SLOTS]
        assert [ours.get_storage(a, s) for a, s in storage] == [
            theirs.get_storage(a, s) for a, s in storage
        ]
    if any(op[0] == "snapshot" for op in operations):
        assert ours._kiln_journal_of is ours._account_db


def test_a_state_moved_to_another_database_journals_transient_storage_apart() -> None:
    """A tool may put a state on an account database of its own (titanoboa's
    integration does): the transient storage then keeps its own journal again."""
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB

    ours, _ = _states()
    ours.commit(ours.snapshot())
    assert ours._kiln_journal_of is ours._account_db
    ours._account_db = AccountDB(AtomicDB())
    snapshot = ours.snapshot()
    assert ours._kiln_journal_of is None
    ours.set_transient_storage(ADDRESSES[0], 1, b"\x05")
    ours.revert(snapshot)
    assert ours.get_transient_storage(ADDRESSES[0], 1) == b""


def test_a_transient_write_drops_its_accounts_storage_stamp() -> None:
    """Sharing the database's journal, the transient storage drops the account's storage
    stamp on every write and every stamp when cleared, so that a native backend's table
    kept past its frame never answers a TLOAD with a value another frame replaced."""
    ours, _ = _states()
    ours.commit(ours.snapshot())  # the first snapshot decides to share the journal
    db = ours._account_db
    first, second = ADDRESSES[0], ADDRESSES[1]
    stamp = db.storage_stamp(first)
    # The storage, made on first use, joins the journal: a new loan drops every stamp.
    assert ours.get_transient_storage(first, 1) == b""
    assert db.storage_stamp(first) is not stamp
    stamp, other = db.storage_stamp(first), db.storage_stamp(second)
    assert db.storage_stamp(first) is stamp
    ours.set_transient_storage(first, 1, b"\x05")
    assert db.storage_stamp(first) is not stamp
    assert db.storage_stamp(second) is other
    stamp = db.storage_stamp(first)
    ours.clear_transient_storage()
    assert db.storage_stamp(first) is not stamp
    assert db.storage_stamp(second) is not other


def test_a_transient_storage_made_anew_is_journaled_as_pyevms() -> None:
    """A tool may drop a state's transient storage (py-evm makes one on the next use):
    the new one is not the one that shares the database's journal, so it journals
    apart until a snapshot shares it; reverting still undoes its writes."""
    ours, theirs = _states()
    for state in (ours, theirs):
        state.commit(state.snapshot())
        state._transient_storage = None
        snapshot = state.snapshot()
        state.set_transient_storage(ADDRESSES[0], 1, b"\x05")
        state.revert(snapshot)
    assert _contents(ours) == _contents(theirs)
    assert ours.get_transient_storage(ADDRESSES[0], 1) == b""


def test_a_storage_made_inside_open_snapshots_is_journaled_as_pyevms() -> None:
    """A snapshot on a state without transient storage makes none; the storage made
    later, inside open snapshots, joins the database's journal, so reverting those
    snapshots undoes its writes as py-evm's reverts do."""
    ours, theirs = _states()
    key = (ADDRESSES[0], 1)
    for state in (ours, theirs):
        outer = state.snapshot()
        inner = state.snapshot()
        state.set_transient_storage(*key, b"\x05")
        state.revert(inner)
        assert state.get_transient_storage(*key) == b""
        state.set_transient_storage(*key, b"\x07")
        middle = state.snapshot()
        state.set_transient_storage(ADDRESSES[1], 2, b"\x09")
        state.commit(middle)
        state.revert(outer)
    assert _contents(ours) == _contents(theirs)
    assert ours._kiln_journal_of is ours._account_db


def test_messages_without_transient_storage_make_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most transactions never use transient storage: their snapshots and the clear
    at their end make no storage."""
    import sys
    from pathlib import Path

    from eth.vm.forks.cancun import CancunVM

    sys.path.insert(0, str(Path(__file__).parent))
    from message_harness import CALLEE, CALLER, A, B, apply_transaction

    made: list[object] = []
    real = JournaledTransientStorage.__init__

    def counted(self: JournaledTransientStorage) -> None:
        made.append(self)
        real(self)

    monkeypatch.setattr(JournaledTransientStorage, "__init__", counted)
    accounts = {A: {"code": CALLER}, B: {"code": CALLEE}}
    flat = make_vm_class("ir", "cancun", persistent_cache=False)
    assert apply_transaction(flat, accounts, to=A) == apply_transaction(CancunVM, accounts, to=A)
    assert made == []
