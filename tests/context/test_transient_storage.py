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
