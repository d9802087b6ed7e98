"""Receipts from evmkiln's VM classes are py-evm's, byte for byte, for every transaction type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth.rlp.logs import Log
from eth.vm.forks.prague import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_bloom import BloomFilter
from eth_keys import keys
from hypothesis import given, settings
from hypothesis import strategies as st
from transaction_kinds import unsigned_of_every_type

from evmkiln.context import make_vm_class
from evmkiln.context.receipts import logs_bloom

KEY = keys.PrivateKey(b"\x11" * 32)
TO = b"\x22" * 20
CHAIN_ID = 1

addresses = st.binary(min_size=20, max_size=20)
topics = st.lists(st.integers(0, 2**256 - 1), max_size=4)
entries = st.lists(st.tuples(addresses, topics, st.binary(max_size=40)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(entries)
def test_logs_bloom_is_eth_blooms(log_entries: list[tuple[bytes, list[int], bytes]]) -> None:
    items = (item for a, t, d in log_entries for item in Log(a, tuple(t), d).bloomables)
    assert logs_bloom(log_entries) == int(BloomFilter.from_iterable(items))


@dataclass
class Finished:
    """What ``make_receipt`` reads of a computation."""

    log_entries: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    is_error: bool
    gas_remaining: int = 30_000
    refund: int = 4_800
    data_floor_gas: int = 0

    def get_log_entries(self) -> tuple[tuple[bytes, tuple[int, ...], bytes], ...]:
        return self.log_entries

    def get_gas_remaining(self) -> int:
        return self.gas_remaining

    def get_gas_refund(self) -> int:
        return self.refund


@dataclass
class Header:
    gas_used: int


def _transactions() -> dict[str, Any]:
    unsigned = unsigned_of_every_type(PragueVM, TO, chain_id=CHAIN_ID)
    return {name: tx.as_signed_transaction(KEY, chain_id=CHAIN_ID) for name, tx in unsigned.items()}


TRANSACTIONS = _transactions()
LOGS = (
    (TO, (1, 2**255), b"data"),
    (b"\x33" * 20, (), b""),
    (TO, (1, 7, 8, 9), b"\x00" * 64),
)


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
@pytest.mark.parametrize("is_error", [False, True])
@pytest.mark.parametrize("logs", [(), LOGS], ids=["no logs", "logs"])
@pytest.mark.parametrize("spoofed", [False, True], ids=["signed", "spoofed"])
def test_receipt_is_pyevms(name: str, is_error: bool, logs: tuple[Any, ...], spoofed: bool) -> None:
    kiln = make_vm_class("ir", "prague", persistent_cache=False)
    transaction = TRANSACTIONS[name]
    if spoofed:  # how eth-tester and the state-test runner send unsigned transactions
        transaction = SpoofTransaction(transaction)
    computation = Finished(logs, is_error)
    header = Header(gas_used=21_000)
    want = PragueVM.make_receipt(header, transaction, computation, None)  # type: ignore[arg-type]
    got = kiln.make_receipt(header, transaction, computation, None)  # type: ignore[arg-type]
    assert type(got) is type(want)
    assert got.encode() == want.encode()
    assert got.bloom == want.bloom


def test_a_transaction_class_with_its_own_receipts_keeps_them() -> None:
    transaction = TRANSACTIONS["legacy"]

    class OwnReceipts(type(transaction)):  # type: ignore[misc]
        def make_receipt(self, status: bytes, gas_used: int, log_entries: Any) -> Any:
            return ("own", status, gas_used)

    own = OwnReceipts(*transaction)
    kiln = make_vm_class("ir", "prague", persistent_cache=False)
    receipt = kiln.make_receipt(Header(0), own, Finished((), False), None)  # type: ignore[arg-type]
    assert receipt[0] == "own"
    # Behind a spoof (plain or remembering), the target's own maker is still found.
    from evmkiln.context.spoofed_transactions import remember_attributes

    for spoof in (SpoofTransaction(own), remember_attributes(SpoofTransaction(own))):
        receipt = kiln.make_receipt(Header(0), spoof, Finished((), False), None)  # type: ignore[arg-type]
        assert receipt[0] == "own"


def test_a_spoof_that_overrides_the_receipt_maker_keeps_it() -> None:
    def own_receipt(status: bytes, gas_used: int, log_entries: Any) -> Any:
        return ("overridden", status, gas_used)

    kiln = make_vm_class("ir", "prague", persistent_cache=False)
    for name in ("legacy", "dynamic fee"):
        spoof = SpoofTransaction(TRANSACTIONS[name], make_receipt=own_receipt)
        receipt = kiln.make_receipt(Header(0), spoof, Finished((), False), None)  # type: ignore[arg-type]
        want = PragueVM.make_receipt(Header(0), spoof, Finished((), False), None)  # type: ignore[arg-type]
        assert receipt[0] == "overridden" and receipt == want


@settings(max_examples=200, deadline=None)
@given(st.tuples(addresses, topics.map(tuple), st.binary(max_size=40)))
def test_a_lean_log_is_the_log_its_constructor_makes(entry: tuple[Any, ...]) -> None:
    import pickle

    import rlp

    from evmkiln.context.receipts import _LEAN_LOGS, log_of

    assert _LEAN_LOGS  # the layout of the pinned pyrlp
    address, log_topics, data = entry
    lean, built = log_of(address, log_topics, data), Log(address, log_topics, data)
    assert type(lean) is Log
    assert (lean.address, lean.topics, lean.data) == (built.address, built.topics, built.data)
    assert lean == built and hash(lean) == hash(built)
    assert rlp.encode(lean) == rlp.encode(built)
    assert lean.bloomables == built.bloomables
    assert pickle.loads(pickle.dumps(lean)) == built
    assert log_of(address, list(log_topics), data).topics == log_topics  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(entries, st.booleans())
def test_a_receipts_logs_are_the_logs_its_constructor_makes(
    log_entries: list[tuple[bytes, list[int], bytes]], as_tuples: bool
) -> None:
    """``logs_of`` makes every entry's ``Log`` by C iterators where all topics are
    tuples; otherwise entry by entry.  Either way the logs py-evm would make."""
    from evmkiln.context.receipts import logs_of

    entries = [(a, tuple(t) if as_tuples else t, d) for a, t, d in log_entries]
    made = logs_of(entries)  # type: ignore[arg-type]
    want = tuple(Log(a, tuple(t), d) for a, t, d in log_entries)
    assert type(made) is tuple and all(type(log) is Log for log in made)
    assert made == want
    assert [(log.address, log.topics, log.data) for log in made] == [
        (log.address, log.topics, log.data) for log in want
    ]


def test_log_entries_of_a_computation_are_py_evms() -> None:
    """Cut from the raw entries without a generator, for py-evm's own
    ``get_log_entries``: the same entries, in the same order."""
    from eth.vm.forks.cancun.computation import CancunComputation

    from evmkiln.context.receipts import log_entries

    computation: Any = object.__new__(CancunComputation)
    computation._error = None
    computation._log_entries = [(3, b"\x01" * 20, (5,), b"c"), (1, b"\x02" * 20, (), b"")]
    child: Any = object.__new__(CancunComputation)
    child._error, child._log_entries, child.children = None, [(2, b"\x03" * 20, (7, 8), b"")], []
    computation.children = [child]
    assert log_entries(computation) == computation.get_log_entries()
    assert [entry[0] for entry in log_entries(computation)] == [
        b"\x02" * 20,
        b"\x03" * 20,
        b"\x01" * 20,
    ]
    assert log_entries(Finished(((b"\x04" * 20, (1,), b""),), False)) == (
        (b"\x04" * 20, (1,), b""),
    )
    tools = ((b"\x05" * 20, (), b""),)
    computation.get_log_entries = lambda: tools  # a tool's, set on the instance
    assert log_entries(computation) == tools


@settings(max_examples=100, deadline=None)
@given(
    entries,
    st.sampled_from([b"", b"\x01"]),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**2048 - 1),
)
def test_a_lean_receipt_is_the_receipt_its_constructor_makes(
    log_entries: list[tuple[bytes, list[int], bytes]], status: bytes, gas_used: int, bloom: int
) -> None:
    import pickle

    import rlp
    from eth.rlp.receipts import Receipt

    from evmkiln.context.receipts import _LEAN_RECEIPTS, receipt_of

    assert _LEAN_RECEIPTS  # the layout of the pinned pyrlp
    logs = tuple(Log(a, tuple(t), d) for a, t, d in log_entries)
    lean = receipt_of(status, gas_used, bloom, logs)
    built = Receipt(state_root=status, gas_used=gas_used, logs=logs, bloom=bloom)
    assert type(lean) is Receipt
    fields = ("state_root", "gas_used", "bloom", "logs")
    assert [getattr(lean, name) for name in fields] == [getattr(built, name) for name in fields]
    assert lean == built and hash(lean) == hash(built)
    assert rlp.encode(lean) == rlp.encode(built)
    assert int(lean.bloom_filter) == int(built.bloom_filter)
    assert pickle.loads(pickle.dumps(lean)) == built
    assert Receipt.decode(rlp.encode(lean)) == built


@settings(max_examples=200, deadline=None)
@given(entries, st.integers(0, 2**2048 - 1))
def test_validate_receipt_accepts_and_refuses_as_pyevms(
    log_entries: list[tuple[bytes, list[int], bytes]], noise: int
) -> None:
    """Against the logs' own bloom, and against a bloom missing bits (which py-evm's
    check refuses with its own error for the first log concerned)."""
    from eth.rlp.receipts import Receipt
    from eth_utils import ValidationError

    kiln = make_vm_class("ir", "prague", persistent_cache=False)
    logs = [Log(a, tuple(t), d) for a, t, d in log_entries]
    own = logs_bloom(log_entries)
    for bloom in (own, own & noise):
        receipt = Receipt(state_root=b"\x01", gas_used=21_000, bloom=bloom, logs=logs)
        try:
            PragueVM.validate_receipt(receipt)
        except ValidationError as error:
            with pytest.raises(ValidationError) as ours:
                kiln.validate_receipt(receipt)
            assert str(ours.value) == str(error)
        else:
            kiln.validate_receipt(receipt)


def test_the_receipt_just_made_is_valid_by_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """make_receipt's own receipt is not checked again; any other receipt is."""
    import rlp
    from eth.rlp.receipts import Receipt

    import evmkiln.context.receipts as receipts

    kiln = make_vm_class("ir", "prague", persistent_cache=False)
    made = kiln.make_receipt(  # type: ignore[arg-type]
        Header(21_000), TRANSACTIONS["legacy"], Finished(LOGS, False), None
    )
    asked: list[bytes] = []
    bits = receipts._bloom_bits
    monkeypatch.setattr(receipts, "_bloom_bits", lambda item: asked.append(item) or bits(item))
    kiln.validate_receipt(made)
    assert asked == []
    kiln.validate_receipt(rlp.decode(rlp.encode(made), Receipt))  # an equal receipt: checked
    distinct = len(asked)
    assert distinct == len({*asked}) > 0
    kiln.validate_receipt(made)  # only the receipt just made is spared, and only once
    assert len(asked) == 2 * distinct
