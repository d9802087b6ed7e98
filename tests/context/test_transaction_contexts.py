"""Transaction contexts built in one function (evmkiln.context.transaction_contexts) are py-evm's.

For every transaction type of every supported fork, signed or spoofed, the
context a flat state builds has the class, gas price, origin, blob hashes,
authorization list and log counter of the one py-evm's methods build on the
same state; what the constructor's checks refuse is refused with the same
error; a subclass's own context class or method is honoured.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError
from message_harness import SENDER_KEY, A, make_state
from transaction_kinds import unsigned_of_every_type

from evmkiln.context import make_vm_class
from evmkiln.context.state_class import flat_state_class
from evmkiln.context.transaction_contexts import lean_transaction_contexts
from evmkiln.forks import SUPPORTED_FORKS, fork_spec

CHAIN_ID = 1
FEE_CASES = [(2, 9), (9, 9), (0, 3), (50, 20)]  # (priority fee, max fee); base fee is 7


def _transactions(vm_class: Any, priority: int, max_fee: int) -> dict[str, Any]:
    unsigned = unsigned_of_every_type(
        vm_class, A, nonce=0, priority_fee=priority, max_fee=max_fee, chain_id=CHAIN_ID
    )
    signed = {
        name: tx.as_signed_transaction(SENDER_KEY, chain_id=CHAIN_ID)
        for name, tx in unsigned.items()
    }
    spoofed = {f"{name} spoofed": SpoofTransaction(tx) for name, tx in signed.items()}
    return {**signed, **spoofed}


def _fields(context: Any) -> tuple[Any, ...]:
    counter = context._log_counter
    assert type(counter) is itertools.count
    return (
        type(context),
        context.gas_price,
        context.origin,
        list(context.blob_versioned_hashes),
        list(getattr(context, "_authorization_list", ())),
        repr(counter),  # count(n): the next log index
    )


@pytest.mark.parametrize("fork", SUPPORTED_FORKS)
@pytest.mark.parametrize("fees", FEE_CASES, ids=[f"{p}-{m}" for p, m in FEE_CASES])
def test_contexts_are_the_ones_pyevm_builds(fork: str, fees: tuple[int, int]) -> None:
    kiln = make_vm_class("ir", fork, persistent_cache=False)
    state = make_state(kiln, {})
    state_class = type(state)
    assert state_class.get_transaction_context is not CancunState.get_transaction_context
    for name, transaction in _transactions(fork_spec(fork).vm_class, *fees).items():
        ours = state.get_transaction_context(transaction)
        pyevms = CancunState.get_transaction_context(state, transaction)
        assert _fields(ours) == _fields(pyevms), name
        assert ours.get_next_log_counter() == 0 and ours.get_next_log_counter() == 1
    assert state_class.__dict__["_kiln_context_class"] == (
        state_class.transaction_context_class,
        True,
    )


@pytest.mark.parametrize(
    "origin", [b"\x01" * 19, "0x" + "01" * 20, bytearray(20)], ids=["short", "text", "bytearray"]
)
def test_what_the_constructor_refuses_is_refused_alike(origin: Any) -> None:
    kiln = make_vm_class("ir", "cancun", persistent_cache=False)
    state = make_state(kiln, {})
    signed = _transactions(fork_spec("cancun").vm_class, 2, 9)["dynamic fee"]
    transaction = SpoofTransaction(signed, sender=origin)
    with pytest.raises(ValidationError) as pyevms:
        CancunState.get_transaction_context(state, transaction)
    with pytest.raises(ValidationError) as ours:
        state.get_transaction_context(transaction)
    assert str(ours.value) == str(pyevms.value)


class _CountingContext(CancunTransactionContext):
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


def test_a_subclass_with_its_own_context_class_has_it_constructed() -> None:
    kiln = make_vm_class("ir", "cancun", persistent_cache=False)
    base_state = kiln.get_state_class()
    sub = base_state.configure(__name__="ToolState", transaction_context_class=_CountingContext)
    signed = _transactions(fork_spec("cancun").vm_class, 2, 9)["blob"]
    # The base class decided first: its decision is its own, not its subclass's.
    make_state(kiln, {}).get_transaction_context(signed)
    state = make_state(kiln.configure(_state_class=sub), {})
    assert type(state) is sub
    context = state.get_transaction_context(signed)
    assert type(context) is _CountingContext and _CountingContext.made == 1
    assert sub.__dict__["_kiln_context_class"] == (_CountingContext, False)
    assert list(context.blob_versioned_hashes) == list(signed.blob_versioned_hashes)


class _PlainContext(CancunTransactionContext):
    """A context class py-evm's base constructor builds (no constructor of its own)."""


def test_a_context_class_assigned_later_is_the_one_built(monkeypatch: pytest.MonkeyPatch) -> None:
    kiln = make_vm_class("ir", "cancun", persistent_cache=False)
    state = make_state(kiln, {})
    signed = _transactions(fork_spec("cancun").vm_class, 2, 9)["dynamic fee"]
    assert type(state.get_transaction_context(signed)) is CancunTransactionContext
    for later in (_PlainContext, _CountingContext):
        monkeypatch.setattr(type(state), "transaction_context_class", later)
        assert type(state.get_transaction_context(signed)) is later
        assert type(CancunState.get_transaction_context(state, signed)) is later
    monkeypatch.undo()
    assert type(state.get_transaction_context(signed)) is CancunTransactionContext
    # A state whose method was patched on the instance is asked, as py-evm asks it.
    monkeypatch.setattr(state, "get_transaction_context_class", lambda: _PlainContext)
    assert type(state.get_transaction_context(signed)) is _PlainContext


def test_a_state_class_with_its_own_method_keeps_it() -> None:
    class ToolState(CancunState):
        def get_transaction_context(self, transaction: Any) -> Any:
            return super().get_transaction_context(transaction)

    assert lean_transaction_contexts(ToolState) == {}
    flat = flat_state_class(ToolState)
    assert flat.get_transaction_context is ToolState.get_transaction_context
    assert lean_transaction_contexts(CancunState) != {}
