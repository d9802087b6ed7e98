"""The transaction envelope's shortcuts against py-evm: spoofed transactions, message building."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
from eth._utils.spoof import SpoofAttributes
from eth.vm.forks.cancun.state import CancunTransactionExecutor
from eth.vm.spoof import SpoofTransaction
from eth_utils import keccak
from eth_utils.logging import DEBUG2_LEVEL_NUM
from message_harness import SENDER, SENDER_KEY, A, make_state
from transaction_kinds import unsigned_of_every_type

from evmkiln.context import make_vm_class, message_building
from evmkiln.context.spoofed_transactions import (
    EAGER_FIELDS,
    RememberingSpoof,
    remember_attributes,
)
from evmkiln.forks import SUPPORTED_FORKS, fork_spec

SPOOFED = b"\x5a" * 20
READ = (
    "sender",
    "gas",
    "gas_price",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "to",
    "value",
    "data",
    "nonce",
    "intrinsic_gas",
    "hash",
    "access_list",
    "y_parity",
    "r",
    "s",
)


def _vm_classes(fork: str) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        kiln = make_vm_class("ir", fork, persistent_cache=False)
    return fork_spec(fork).vm_class, kiln


def _signed(vm_class: Any, to: bytes, data: bytes = b"\x01\x02", nonce: int = 0) -> Any:
    unsigned = vm_class.get_transaction_builder().create_unsigned_transaction(
        nonce=nonce, gas_price=10, gas=200_000, to=to, value=3, data=data
    )
    return unsigned.as_signed_transaction(SENDER_KEY, chain_id=1)


def _spoof(transaction: Any) -> SpoofTransaction:
    return SpoofTransaction(transaction, sender=SPOOFED, get_sender=lambda: SPOOFED)


def test_a_remembering_spoof_reads_as_the_spoof_and_looks_each_attribute_up_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stock, _ = _vm_classes("cancun")
    spoof = _spoof(_signed(stock, A))
    remembering = remember_attributes(spoof)
    assert isinstance(remembering, RememberingSpoof)
    assert isinstance(remembering, SpoofTransaction)
    lookups: list[str] = []
    lookup = SpoofAttributes.__getattr__

    def counting(self: Any, attr: str) -> Any:
        lookups.append(attr)
        return lookup(self, attr)

    monkeypatch.setattr(SpoofAttributes, "__getattr__", counting)
    for _ in range(3):
        for name in READ:
            assert getattr(remembering, name) == getattr(spoof, name), name
    assert remembering.sender == SPOOFED
    assert remembering.get_sender() == SPOOFED
    # The plain spoof looked every attribute up each time, the remembering one once,
    # but for the fields and overrides it remembered when it was made.
    made_with = set(EAGER_FIELDS) | set(spoof.overrides)
    assert sorted(lookups) == sorted([*READ] * 3 + [n for n in READ if n not in made_with])
    # What is missing stays missing, every time.
    for _ in range(2):
        assert not hasattr(remembering, "no_such_attribute")
    # A copy with other fields is spoofed the same way (py-evm's eth_call does this).
    copy = remembering.copy(gas_price=0)
    assert type(copy) is RememberingSpoof
    assert copy.gas_price == 0
    assert copy.sender == SPOOFED
    assert remembering.gas_price == 10


def _every_type(vm_class: Any) -> dict[str, Any]:
    unsigned = unsigned_of_every_type(vm_class, A)
    signed = {
        name: tx.as_signed_transaction(SENDER_KEY, chain_id=1) for name, tx in unsigned.items()
    }
    # eth-tester's eth_call: an unsigned transaction with the sender given as from_.
    spoofs = {name: SpoofTransaction(tx, from_=SPOOFED) for name, tx in unsigned.items()}
    return {
        **{f"{name} spoofed": _spoof(tx) for name, tx in signed.items()},
        **{f"{name} unsigned": tx for name, tx in spoofs.items()},
    }


@pytest.mark.parametrize("fork", ["prague", "osaka"])
def test_fields_remembered_when_made_read_as_the_spoofs(fork: str) -> None:
    for name, spoof in _every_type(fork_spec(fork).vm_class).items():
        remembering = remember_attributes(spoof)
        made = dict(vars(remembering))
        assert set(spoof.overrides) <= set(made), name
        for field in [*EAGER_FIELDS, *spoof.overrides, "sender"]:
            try:
                expected = getattr(spoof, field)
            except AttributeError:
                assert field not in made, (name, field)
                assert not hasattr(remembering, field), (name, field)
                continue
            assert getattr(remembering, field) == expected, (name, field)
            if field in EAGER_FIELDS or field in spoof.overrides:
                assert made[field] == expected, (name, field)


class _Raising:
    """A spoof target whose ``gas`` cannot be read."""

    nonce = 1

    @property
    def gas(self) -> int:
        raise ValueError("gas of a broken transaction")


def test_a_field_that_raises_raises_when_it_is_read() -> None:
    remembering = remember_attributes(SpoofTransaction(_Raising(), sender=SPOOFED))
    assert remembering.nonce == 1 and remembering.sender == SPOOFED
    for _ in range(2):
        with pytest.raises(ValueError, match="gas of a broken transaction"):
            _ = remembering.gas
    assert not hasattr(remembering, "to")


def test_overrides_of_the_spoofs_own_names_stay_hidden_as_in_pyevm() -> None:
    stock, _ = _vm_classes("cancun")
    signed = _signed(stock, A)
    spoof = SpoofTransaction(signed, copy="not a method", overrides="x", sender=SPOOFED)
    remembering = remember_attributes(spoof)
    for name in ("copy", "overrides", "spoof_target"):
        assert type(getattr(remembering, name)) is type(getattr(spoof, name)), name
    assert remembering.spoof_target is signed and remembering.sender == SPOOFED


def test_anything_but_a_plain_spoof_is_left_as_it_is() -> None:
    stock, _ = _vm_classes("cancun")
    signed = _signed(stock, A)
    assert remember_attributes(signed) is signed
    remembering = remember_attributes(_spoof(signed))
    assert remember_attributes(remembering) is remembering


def _build(vm_class: Any, transaction: Any) -> tuple[Any, Any]:
    accounts = {SENDER: {"balance": 10**20, "nonce": 0}, A: {"code": b"\x60\x01\x00"}}
    state = make_state(vm_class, accounts, persisted=True)
    executor = state.get_transaction_executor()
    message = executor.build_evm_message(transaction)
    return message, state


MESSAGE_FIELDS = (
    "gas",
    "to",
    "sender",
    "value",
    "data",
    "code",
    "depth",
    "storage_address",
    "is_create",
    "code_address",
    "should_transfer_value",
    "is_static",
    "refund",
    "is_delegation",
)


@pytest.mark.parametrize("fork", SUPPORTED_FORKS)
@pytest.mark.parametrize("create", [False, True], ids=["call", "create"])
def test_messages_are_built_as_pyevm_builds_them(fork: str, create: bool) -> None:
    stock, kiln = _vm_classes(fork)
    executor = kiln.get_state_class().transaction_executor_class
    assert executor.build_evm_message is not CancunTransactionExecutor.build_evm_message
    to = b"" if create else A
    expected, expected_state = _build(stock, _signed(stock, to, data=b"\x60\x00\x60\x00\xf3"))
    got, state = _build(kiln, _signed(kiln, to, data=b"\x60\x00\x60\x00\xf3"))
    for field in MESSAGE_FIELDS:
        assert getattr(got, field) == getattr(expected, field), field
    for read in ("get_balance", "get_nonce"):
        assert getattr(state, read)(SENDER) == getattr(expected_state, read)(SENDER), read
    assert state.make_state_root() == expected_state.make_state_root()


@pytest.mark.parametrize("enabled", [False, True], ids=["quiet", "debug2"])
def test_the_debug_line_is_formatted_only_when_logged(
    enabled: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """py-evm's line, word for word, when ``DEBUG2`` is on; nothing formatted otherwise."""
    _, kiln = _vm_classes("cancun")
    state = make_state(kiln, {SENDER: {"balance": 10**20}, A: {"code": b"\x00"}})
    logger = state.logger
    logger.__dict__.pop("show_debug2", None)  # a cached decision from an earlier test
    logger.__dict__.pop("debug2", None)
    formatted: list[bytes] = []
    encode_hex = message_building.encode_hex

    def counting(value: bytes) -> str:
        formatted.append(value)
        return encode_hex(value)

    monkeypatch.setattr(message_building, "encode_hex", counting)
    transaction = _signed(kiln, A)
    with caplog.at_level(DEBUG2_LEVEL_NUM if enabled else logging.INFO, logger=logger.name):
        state.get_transaction_executor().build_evm_message(transaction)
    logger.__dict__.pop("show_debug2", None)
    logger.__dict__.pop("debug2", None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("TRANSACTION")]
    if not enabled:
        assert formatted == [] and lines == []
        return
    data_hash = keccak(b"\x01\x02").hex()
    assert lines == [
        f"TRANSACTION: {transaction!r}; sender: 0x{SENDER.hex()} | to: 0x{A.hex()} | "
        f"data-hash: 0x{data_hash} | gas: 200000 | code: 0x00 | "
    ]


@pytest.mark.parametrize(
    "sender",
    [b"\x5a" * 19, bytearray(b"\x5a" * 20), "0x" + "5a" * 20],
    ids=["short", "array", "str"],
)
def test_a_message_its_constructor_refuses_is_refused_alike(sender: Any) -> None:
    """Fields ``Message`` would refuse (a spoofed sender here) take its constructor: the
    same error as py-evm's, raised at the same point."""
    outcomes = []
    for vm_class in _vm_classes("cancun"):
        spoof = SpoofTransaction(_signed(vm_class, A), sender=sender)
        try:
            message, _ = _build(vm_class, remember_attributes(spoof))
            outcomes.append(("", tuple(getattr(message, field) for field in MESSAGE_FIELDS)))
        except Exception as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1]


# SLOAD slots 1 and 2, BALANCE of 0x..33, STOP: an access list makes each one warm.
READS = bytes.fromhex("600154" + "600254" + "73" + "33" * 20 + "31" + "00")


@pytest.mark.parametrize("fork", SUPPORTED_FORKS)
@pytest.mark.parametrize(
    "access_list",
    [(), ((A, (1, 2)),), ((A, (2,)), (b"\x33" * 20, ()))],
    ids=["none", "slots", "slot-and-account"],
)
def test_computations_are_built_as_pyevm_builds_them(
    fork: str, access_list: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warming (sender, recipient, access list), the transaction context and the
    finalisation that reads it again: py-evm's gas, state and refund."""
    outcomes = []
    for vm_class in _vm_classes(fork):
        accounts = {SENDER: {"balance": 10**20}, A: {"code": READS, "storage": {1: 5}}}
        state = make_state(vm_class, accounts, persisted=True)
        unsigned = vm_class.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
            chain_id=1,
            nonce=0,
            max_priority_fee_per_gas=2,
            max_fee_per_gas=30,
            gas=100_000,
            to=A,
            value=0,
            data=b"",
            access_list=access_list,
        )
        transaction = unsigned.as_signed_transaction(SENDER_KEY)
        contexts = [0]
        get_context = type(state).get_transaction_context

        def counting(self: Any, transaction: Any, get: Any = get_context, n: Any = contexts) -> Any:
            n[0] += 1
            return get(self, transaction)

        with monkeypatch.context() as patch:
            patch.setattr(type(state), "get_transaction_context", counting)
            computation = state.apply_transaction(transaction)
        outcomes.append(
            (
                computation.get_gas_remaining(),
                state.get_balance(SENDER),
                state.make_state_root(),
                contexts[0],
            )
        )
    (*theirs, their_contexts), (*ours, our_contexts) = outcomes
    assert ours == theirs
    assert (their_contexts, our_contexts) == (2, 1)
