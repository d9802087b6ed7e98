"""py-evm's transactions, receipts, withdrawals and headers encode to pyrlp's bytes, with
pyrlp's errors, through the fast serializer."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from eth.rlp.headers import BlockHeader
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.berlin.transactions import (
    AccessListTransaction,
    TypedTransaction,
    UnsignedAccessListTransaction,
)
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from eth.vm.forks.cancun.receipts import CancunTypedReceipt
from eth.vm.forks.cancun.transactions import BlobTransaction
from eth.vm.forks.frontier.transactions import FrontierTransaction
from eth.vm.forks.london.blocks import LondonBlockHeader
from eth.vm.forks.london.transactions import DynamicFeeTransaction
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth.vm.forks.prague.transactions import SetCodeTransaction
from eth.vm.forks.shanghai.blocks import ShanghaiBlockHeader
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from rlp.sedes import BigEndianInt, Binary, CountableList, List
from rlp.sedes.serializable import Serializable

from evmkiln.context.serializable_encoding import (
    encode_serializable,
    encoding_of,
    message_for_signing,
)

CLASSES = [
    FrontierTransaction,
    AccessListTransaction,
    UnsignedAccessListTransaction,
    DynamicFeeTransaction,
    BlobTransaction,
    SetCodeTransaction,
    Receipt,
    Withdrawal,
    BlockHeader,
    LondonBlockHeader,
    ShanghaiBlockHeader,
    CancunBlockHeader,
    PragueBlockHeader,
]


def _values(sedes: Any) -> st.SearchStrategy[Any]:
    """Values ``sedes`` serializes (every sedes py-evm's classes use)."""
    if type(sedes) is BigEndianInt:
        top = 2**300 if sedes.length is None else 256**sedes.length - 1
        return st.one_of(st.integers(0, 300), st.integers(0, top))
    if type(sedes) is Binary:
        low = sedes.min_length
        high = min(sedes.max_length, low + 70)
        sizes = st.binary(min_size=low, max_size=int(high))
        return st.one_of(sizes, st.just(b"")) if sedes.allow_empty else sizes
    if type(sedes) is CountableList:
        return st.lists(_values(sedes.element_sedes), max_size=3).map(tuple)
    if type(sedes) is List:
        return st.tuples(*(_values(element) for element in sedes))
    assert isinstance(sedes, type) and issubclass(sedes, Serializable), sedes
    return _instances(sedes)


def _instances(cls: Any) -> st.SearchStrategy[Any]:
    fields = st.tuples(*(_values(sedes) for sedes in cls._meta.sedes))
    return fields.map(lambda values: cls(**dict(zip(cls._meta.field_names, values, strict=True))))


def _twin(obj: Any) -> Any:
    """The same fields in a second object, with nothing cached on it."""
    return type(obj)(**{name: getattr(obj, name) for name in obj._meta.field_names})


@settings(max_examples=60, deadline=None)
@given(st.data())
@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_encodings_are_pyrlps(cls: Any, data: st.DataObject) -> None:
    obj = data.draw(_instances(cls))
    expected = rlp.encode(_twin(obj))
    assert encode_serializable(obj) == expected
    assert obj._cached_rlp == expected  # cached where pyrlp caches it
    assert rlp.encode(obj) == expected


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_typed_wrappers_encode_as_their_encode(data: st.DataObject) -> None:
    inner = data.draw(_instances(DynamicFeeTransaction))
    transaction = TypedTransaction(2, inner)
    assert encoding_of(transaction) == TypedTransaction(2, _twin(inner)).encode()
    receipt = data.draw(_instances(Receipt))
    for type_id in (1, 2, 3):
        typed = CancunTypedReceipt(type_id, receipt)
        assert encoding_of(typed) == CancunTypedReceipt(type_id, _twin(receipt)).encode()
    assert encoding_of(receipt) == _twin(receipt).encode()


def _withdrawal(**fields: Any) -> Withdrawal:
    values = {"index": 1, "validator_index": 2, "address": b"\x01" * 20, "amount": 3}
    values.update(fields)
    return Withdrawal(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": True},  # pyrlp refuses a bool
        {"amount": -1},
        {"amount": 2**64},  # a fixed-length integer too large
        {"amount": "3"},
        {"address": b"\x01" * 19},  # a wrong length
        {"address": bytearray(b"\x01" * 20)},  # pyrlp's own types beyond bytes
        {"address": HexBytes(b"\x01" * 20)},
    ],
)
def test_values_pyrlp_decides_get_its_answer(fields: dict[str, Any]) -> None:
    expected: Any
    try:
        expected = rlp.encode(_withdrawal(**fields))
    except Exception as error:
        expected = (type(error), str(error))
    try:
        got: Any = encode_serializable(_withdrawal(**fields))
    except Exception as error:
        got = (type(error), str(error))
    assert got == expected


def test_logs_nest_as_serializables_or_sequences() -> None:
    log = Log(b"\x02" * 20, (1, 2**256 - 1), b"data")
    fields = {"state_root": b"\x01", "gas_used": 21_000, "bloom": 7}
    receipts = [Receipt(**fields, logs=(log,))]
    receipts.append(Receipt(**fields, logs=((b"\x02" * 20, (1,), b""),)))
    for receipt in receipts:
        assert encode_serializable(receipt) == rlp.encode(_twin(receipt))


def test_a_cached_encoding_is_returned() -> None:
    withdrawal = _withdrawal()
    withdrawal._cached_rlp = b"cached"
    assert encode_serializable(withdrawal) == b"cached"


class _OwnEncoding(Withdrawal):
    def encode(self) -> bytes:
        return b"own"


class _OwnSerialization(Withdrawal):
    @classmethod
    def serialize(cls, obj: Any) -> Any:
        return [b"own"]


def test_classes_encoding_their_own_way_are_asked() -> None:
    assert encoding_of(_OwnEncoding(1, 2, b"\x01" * 20, 3)) == b"own"
    own = _OwnSerialization(1, 2, b"\x01" * 20, 3)
    assert encode_serializable(own) == rlp.encode(_twin(own)) == rlp.encode([b"own"])


def test_classes_reading_their_fields_their_own_way_are_asked() -> None:
    """pyrlp iterates an object to serialize it, and py-evm reads a transaction's fields
    through their properties to make the message it signs."""

    class OwnIteration(Withdrawal):
        def __iter__(self) -> Any:
            return iter((9, 9, b"\x09" * 20, 9))

    class OwnField(DynamicFeeTransaction):
        @property
        def data(self) -> bytes:
            return b"seen through the property"

    own = OwnIteration(1, 2, b"\x01" * 20, 3)
    assert encode_serializable(own) == rlp.encode(_twin(own))
    fields = {
        "chain_id": 1,
        "nonce": 0,
        "max_priority_fee_per_gas": 1,
        "max_fee_per_gas": 2,
        "gas": 21_000,
        "to": b"\x01" * 20,
        "value": 0,
        "data": b"",
        "access_list": (),
        "y_parity": 0,
        "r": 1,
        "s": 1,
    }
    transaction = OwnField(**fields)
    assert message_for_signing(transaction) == transaction.get_message_for_signing()
    assert message_for_signing(transaction) != message_for_signing(DynamicFeeTransaction(**fields))
