"""PyEvmHost answers from, and writes to, the py-evm computation it wraps."""

from __future__ import annotations

from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth_utils import ValidationError
from message_harness import COINBASE, SENDER, A, B, make_state

from evmkiln.context import PyEvmHost


def _host(accounts: dict[bytes, dict[str, Any]]) -> tuple[PyEvmHost, Any, Any]:
    state = make_state(CancunVM, accounts)
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx_context = CancunTransactionContext(gas_price=10, origin=SENDER)
    computation = state.computation_class(state, message, tx_context)
    return PyEvmHost(computation), computation, state


def test_access_sets_report_cold_once() -> None:
    host, _, state = _host({})
    assert host.access_account(B) is True
    assert host.access_account(B) is False
    assert state.is_address_warm(B)
    assert host.access_account(bytes(19) + b"\x01") is False  # precompiles start warm
    assert host.access_account(COINBASE) is False  # EIP-3651
    assert host.access_storage(A, 7) is True
    assert host.access_storage(A, 7) is False
    assert host.access_storage(B, 7) is True


def test_original_storage_survives_writes_in_the_transaction() -> None:
    host, _, _ = _host({A: {"storage": {1: 10}}})
    host.set_storage(A, 1, 11)
    assert (host.get_storage(A, 1), host.get_original_storage(A, 1)) == (11, 10)


def test_transient_values_interoperate_with_the_interpreter() -> None:
    host, computation, state = _host({})
    host.set_transient(A, 1, 0)
    host.set_transient(A, 2, 2**256 - 1)
    # The interpreter's TLOAD reads what the host stored ...
    computation.stack_push_int(2)
    computation.opcodes[0x5C](computation=computation)
    assert computation.stack_pop1_int() == 2**256 - 1
    # ... and the host reads what the interpreter's TSTORE stored.
    computation.stack_push_int(0xABCD)
    computation.stack_push_int(3)
    computation.opcodes[0x5D](computation=computation)
    assert host.get_transient(A, 3) == 0xABCD
    assert host.get_transient(A, 1) == 0 and host.get_transient(B, 2) == 0
    assert state.get_transient_storage(A, 1) == b"\x00"  # the interpreter's own encoding


def test_selfdestruct_destroy_burns_a_self_transfer_and_registers_deletion() -> None:
    host, computation, state = _host({A: {"balance": 50}})
    host.selfdestruct(A, A, destroy=True)
    assert state.get_balance(A) == 0
    assert computation.accounts_to_delete == [A]


def test_selfdestruct_without_destroy_moves_balance_only() -> None:
    host, computation, state = _host({A: {"balance": 50}, B: {"balance": 1}})
    host.selfdestruct(A, A, destroy=False)
    assert state.get_balance(A) == 50
    host.selfdestruct(A, B, destroy=False)
    assert (state.get_balance(A), state.get_balance(B)) == (0, 51)
    assert computation.accounts_to_delete == []
    assert computation.beneficiaries == [A, B]


def test_environment() -> None:
    host, computation, _ = _host({A: {"balance": 3}})
    computation.contracts_created = [B]
    assert host.created_in_transaction(B) and not host.created_in_transaction(A)
    assert host.block_number() == 50
    assert host.block_hash(49) == int.from_bytes(b"\x01" * 32, "big")
    assert host.origin() == SENDER and host.coinbase() == COINBASE
    assert host.prev_randao() == int.from_bytes(b"\x42" * 32, "big")
    assert host.chain_id() == 1 and host.base_fee() == 7 and host.blob_base_fee() == 1
    assert host.get_balance(A) == 3 and host.account_is_empty(B) and not host.account_exists(B)


def test_logs_are_numbered_with_the_transaction() -> None:
    host, computation, _ = _host({})
    host.emit_log(A, (1, 2), b"x")
    host.emit_log(A, (), b"")
    assert computation.get_log_entries() == ((A, (1, 2), b"x"), (A, (), b""))


def _flat_class() -> Any:
    from evmkiln.context import make_vm_class

    return make_vm_class("ir", fork="cancun")


@pytest.mark.parametrize("flat", [False, True], ids=["stock", "flat"])
def test_load_slot_answers_as_the_three_separate_questions(flat: bool) -> None:
    """``load_slot`` is ``access_storage``, ``get_storage`` and ``get_original_storage``,
    in a fresh host, after writes of the transaction, after a wipe and after a
    reverted checkpoint (which makes the slots it warmed cold again)."""
    vm_class = _flat_class() if flat else CancunVM
    accounts = {A: {"storage": {1: 10, 2: 20}}, B: {"storage": {1: 5}}}

    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx = CancunTransactionContext(gas_price=10, origin=SENDER)

    def host_of(state: Any) -> PyEvmHost:
        """A frame's host (it remembers what its frame read and warmed)."""
        return PyEvmHost(state.computation_class(state, message, tx))

    def separately(host: PyEvmHost, address: bytes, slot: int) -> tuple[bool, int, int]:
        cold = host.access_storage(address, slot)
        return cold, host.get_storage(address, slot), host.get_original_storage(address, slot)

    fused_state, plain_state = (make_state(vm_class, accounts) for _ in range(2))
    fused, plain = host_of(fused_state), host_of(plain_state)
    script: list[tuple[str, bytes, int]] = [
        ("load", A, 1),
        ("load", A, 1),
        ("write", A, 2),
        ("load", A, 2),
        ("load", A, 3),
        ("snapshot", B, 0),
        ("load", B, 1),
        ("revert", B, 0),
        ("load", B, 1),
        ("wipe", B, 0),
        ("load", B, 1),
    ]
    snapshots: list[Any] = []
    for action, address, slot in script:
        if action == "load":
            again = (fused.load_slot(address, slot), separately(plain, address, slot))
            assert again[0] == again[1], (action, address, slot)
            continue
        for host, state in ((fused, fused_state), (plain, plain_state)):
            if action == "write":
                host.set_storage(address, slot, 99)
            elif action == "snapshot":
                snapshots.append(state.snapshot())
            elif action == "revert":
                state.revert(snapshots.pop(0))
            else:
                state.delete_storage(address)
        if action in ("revert", "wipe"):  # the next frame, with its own host
            fused, plain = host_of(fused_state), host_of(plain_state)
    assert fused_state.make_state_root() == plain_state.make_state_root()


def test_load_slot_reads_the_flat_state_in_one_call_only_where_that_is_exact() -> None:
    vm_class = _flat_class()
    state = make_state(vm_class, {A: {"storage": {1: 10}}})
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx = CancunTransactionContext(gas_price=10, origin=SENDER)
    host = PyEvmHost(state.computation_class(state, message, tx))
    assert host.load_slot(A, 1) == (True, 10, 10)
    assert host._loader is not None

    class WatchingState(type(state)):  # type: ignore[misc]
        def is_storage_warm(self, address: bytes, slot: int) -> bool:
            return bool(super().is_storage_warm(address, slot))

    watched = make_state(vm_class, {A: {"storage": {1: 10}}})
    watched.__class__ = WatchingState
    host = PyEvmHost(watched.computation_class(watched, message, tx))
    assert host.load_slot(A, 1) == (True, 10, 10)
    assert host._readers_known and host._loader is None


def test_writes_reach_the_flat_state_directly_only_where_that_is_exact() -> None:
    vm_class = _flat_class()
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx = CancunTransactionContext(gas_price=10, origin=SENDER)
    seen: list[tuple[bytes, int, int]] = []
    state = make_state(vm_class, {A: {"storage": {1: 10}}})

    class WatchingState(type(state)):  # type: ignore[misc]
        def set_storage(self, address: bytes, slot: int, value: int) -> None:
            seen.append((address, slot, value))
            super().set_storage(address, slot, value)

    watched = make_state(vm_class, {A: {"storage": {1: 10}}})
    watched.__class__ = WatchingState
    for target in (state, watched):
        host = PyEvmHost(target.computation_class(target, message, tx))
        host.set_storage(A, 1, 11)
        host.set_storage(A, 2**256 - 1, 2**256 - 1)
        assert host._readers_known and (host._writer is None) == (target is watched)
        assert host.get_storage(A, 1) == target.get_storage(A, 1) == 11
        assert target.get_storage(A, 2**256 - 1) == 2**256 - 1
    assert seen == [(A, 1, 11), (A, 2**256 - 1, 2**256 - 1)]  # the override saw every write
    assert state.make_state_root() == watched.make_state_root()
    with pytest.raises(ValidationError):
        state._account_db.write_slot(b"short", 1, 1)


def test_an_account_database_watching_storage_is_not_bypassed() -> None:
    """A subclass of the flat database that overrides a storage method gets every
    read and write through its methods, not the host's shortcuts."""
    vm_class = _flat_class()
    state = make_state(vm_class, {A: {"storage": {1: 10}}})
    calls: list[str] = []
    db = state._account_db

    class Watching(type(db)):  # type: ignore[misc]
        def get_storage(self, address: bytes, slot: int, from_journal: bool = True) -> int:
            calls.append("get")
            return int(super().get_storage(address, slot, from_journal=from_journal))

        def set_storage(self, address: bytes, slot: int, value: int) -> None:
            calls.append("set")
            super().set_storage(address, slot, value)

    db.__class__ = Watching
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx = CancunTransactionContext(gas_price=10, origin=SENDER)
    host = PyEvmHost(state.computation_class(state, message, tx))
    assert host.load_slot(A, 1) == (True, 10, 10)
    host.set_storage(A, 1, 11)
    assert host._readers_known and (host._pair, host._loader, host._writer) == (None, None, None)
    assert "get" in calls and "set" in calls
    assert state.get_storage(A, 1) == 11


def test_the_storage_readers_kept_on_a_state_follow_its_database_and_classes() -> None:
    """A state keeps the readers its first frame's host decided on; another database,
    or a class swapped in for the database's or the state's, is decided anew."""
    vm_class = _flat_class()
    state = make_state(vm_class, {A: {"storage": {1: 10}}})
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx = CancunTransactionContext(gas_price=10, origin=SENDER)

    def host() -> PyEvmHost:
        made = PyEvmHost(state.computation_class(state, message, tx))
        made._know_readers()
        return made

    first = host()
    assert first._loader is not None and first._writer is not None
    assert host()._loader == first._loader  # the same database's methods, kept

    class WatchingDb(type(state._account_db)):  # type: ignore[misc]
        def set_storage(self, address: bytes, slot: int, value: int) -> None:
            super().set_storage(address, slot, value)

    state._account_db.__class__ = WatchingDb
    assert (host()._pair, host()._loader, host()._writer) == (None, None, None)

    class WatchingState(type(state)):  # type: ignore[misc]
        def is_storage_warm(self, address: bytes, slot: int) -> bool:
            return bool(super().is_storage_warm(address, slot))

    state._account_db.__class__ = WatchingDb.__bases__[0]
    assert host()._loader is not None
    state.__class__ = WatchingState
    assert host()._loader is None and host()._writer is not None
    # A frame that cannot read the database directly still loads through the state.
    assert host().load_slot(A, 1) == (True, 10, 10)


@pytest.mark.parametrize(
    "error",
    [None, "revert", "out of gas", "invalid", "write protection"],
)
@pytest.mark.parametrize("lean", [True, False], ids=["as made", "a tool's subclass"])
def test_a_childs_outcome_is_what_its_properties_say(error: str | None, lean: bool) -> None:
    """child_outcome reads a computation of the class make_vm_class made where py-evm
    keeps what its properties compute; any other class through the properties."""
    from eth.exceptions import InvalidInstruction, OutOfGas, Revert, WriteProtection

    from evmkiln.context import make_vm_class
    from evmkiln.context.pyevm_host import child_outcome, gas_remaining

    errors = {
        "revert": Revert(b"reason"),
        "out of gas": OutOfGas("out"),
        "invalid": InvalidInstruction("bad"),
        "write protection": WriteProtection("static"),
    }
    kiln = make_vm_class("ir", "cancun", persistent_cache=False)
    computation_class = kiln.get_state_class().computation_class
    if not lean:
        computation_class = type("ToolComputation", (computation_class,), {})
    state = make_state(kiln, {})
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=b"\x00")
    tx_context = CancunTransactionContext(gas_price=10, origin=SENDER)
    child = computation_class(state, message, tx_context)
    child.consume_gas(1_234, reason="test")
    child.output = b"returned"
    if error is not None:
        child._error = errors[error]
    expected = (bool(child.is_success), child.output, gas_remaining(child))
    assert child_outcome(child) == expected
    if error in ("out of gas", "invalid", "write protection"):
        assert expected == (False, b"", 0)
    elif error == "revert":
        assert expected == (False, b"returned", 100_000 - 1_234)
