"""py-evm's transactions, receipts and headers encoded without pyrlp's generic serializer.

pyrlp serializes a ``Serializable`` through layers of generic code: the
sedes is inferred, every field goes through its sedes' ``serialize`` (an
``isinstance`` check, a length check through ``any`` of a tuple), every list
through a generator wrapped by ``to_list``, and the result through a
recursive ``encode_raw``.  Encoding a dynamic-fee transaction costs about
2,500 Python bytecodes, a receipt as much, a header more; py-evm encodes
each transaction and receipt of a block to build its roots, and each header
to hash it, so a block of sixteen small transactions spent more on these
encodings than on running its messages.

:func:`encode_serializable` is ``rlp.encode(obj)`` for a ``Serializable``:
the same bytes, cached on the object in ``_cached_rlp`` as pyrlp caches them
(so py-evm's own later ``rlp.encode`` returns them at once).  Each class's
fields are serialized by functions made once from its sedes, for the sedes
pyrlp defines (``BigEndianInt``, ``Binary``, ``List``, ``CountableList`` and
nested ``Serializable`` classes), and only for values of the exact types
pyrlp's sedes accept without conversion (``int``, ``bytes``, tuples and
lists); anything else -- another sedes class, a ``bool``, a ``bytearray``,
a value pyrlp would refuse -- is left to ``rlp.encode``, with its result
or its error.  :func:`encoding_of` is ``item.encode()`` for py-evm's
transaction, receipt and withdrawal classes, whose ``encode`` is that
``rlp.encode`` (or a type byte before it); any other ``encode`` is called.
:func:`message_for_signing` is a signed transaction's
``get_message_for_signing()``, which py-evm makes by building the unsigned
transaction and encoding it, from the signed one's serialized fields.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import rlp
from eth._utils.transactions import is_eip_155_signed_transaction
from eth.rlp.receipts import Receipt
from eth.rlp.transactions import BaseTransaction
from eth.vm.forks.berlin.receipts import TypedReceipt
from eth.vm.forks.berlin.transactions import (
    AccessListTransaction,
    TypedTransaction,
    UnsignedAccessListTransaction,
)
from eth.vm.forks.cancun.transactions import BlobTransaction, UnsignedBlobTransaction
from eth.vm.forks.frontier.transactions import FrontierTransaction, FrontierUnsignedTransaction
from eth.vm.forks.homestead.transactions import (
    HomesteadTransaction,
    HomesteadUnsignedTransaction,
)
from eth.vm.forks.london.transactions import DynamicFeeTransaction, UnsignedDynamicFeeTransaction
from eth.vm.forks.prague.transactions import SetCodeTransaction, UnsignedSetCodeTransaction
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth.vm.forks.spurious_dragon.transactions import (
    SpuriousDragonTransaction,
    SpuriousDragonUnsignedTransaction,
)
from eth_utils.encoding import int_to_big_endian
from rlp.sedes import BigEndianInt, Binary, CountableList, List
from rlp.sedes.serializable import Serializable

from evmkiln.context.trie_nodes import encode_node

Serializer = Callable[[Any], Any]


class _NotPlain(Exception):
    """A value the fast serializer leaves to pyrlp."""


_SERIALIZE = Serializable.serialize.__func__

_PLAIN_ENCODES = frozenset(
    klass.__dict__["encode"]
    for klass in (
        Receipt,
        BaseTransaction,
        AccessListTransaction,
        DynamicFeeTransaction,
        BlobTransaction,
        SetCodeTransaction,
        Withdrawal,
    )
)
"""py-evm's ``encode`` methods that are ``rlp.encode(self)``."""

_TYPED_ENCODES = frozenset((TypedTransaction.__dict__["encode"], TypedReceipt.__dict__["encode"]))
"""py-evm's ``encode`` methods that are ``self._type_byte + self._inner.encode()``."""


def encoding_of(item: Any) -> bytes:
    """``item.encode()``, made by :func:`encode_serializable` for py-evm's own classes."""
    encode = getattr(type(item), "encode", None)
    if encode in _PLAIN_ENCODES:
        return encode_serializable(item)
    if encode in _TYPED_ENCODES:
        return _type_byte(item) + encoding_of(item._inner)
    encoded: bytes = item.encode()
    return encoded


_TYPE_BYTES = frozenset(
    (TypedTransaction.__dict__["_type_byte"], TypedReceipt.__dict__["_type_byte"])
)
"""py-evm's ``_type_byte`` of its typed wrappers: eth-utils' ``to_bytes(self.type_id)``."""


def _type_byte(item: Any) -> bytes:
    """``item._type_byte``: the type id as one byte, as ``to_bytes`` makes an id below 256."""
    type_id = item.type_id
    if (
        type(type_id) is int
        and 0 <= type_id < 256
        and getattr(type(item), "_type_byte", None) in _TYPE_BYTES
    ):
        return bytes((type_id,))
    type_byte: bytes = item._type_byte
    return type_byte


def encode_serializable(obj: Any) -> bytes:
    """``rlp.encode(obj)`` for a ``Serializable`` ``obj``, cached on it as pyrlp caches it."""
    cached: bytes | None = obj._cached_rlp
    if cached:
        return cached
    serialize = _class_serializer(type(obj))
    if serialize is not None:
        try:
            item = serialize(obj)
        except _NotPlain:
            pass
        else:
            encoded = encode_node(item)
            obj._cached_rlp = encoded
            return encoded
    fallback: bytes = rlp.encode(obj)
    return fallback


_SERIALIZERS: dict[type, Serializer | None] = {}
_SEDES_SERIALIZERS: dict[int, tuple[Any, Serializer | None]] = {}
_LOCK = threading.Lock()


def _class_serializer(cls: type) -> Serializer | None:
    """The fields of a ``cls`` instance as pyrlp serializes them, or None: not plain."""
    try:
        return _SERIALIZERS[cls]
    except KeyError:
        pass
    with _LOCK:
        made = _SERIALIZERS[cls] = _make_class_serializer(cls)
    return made


def _make_class_serializer(cls: type) -> Serializer | None:
    if getattr(getattr(cls, "serialize", None), "__func__", None) is not _SERIALIZE:
        return None  # a class serializing its own way
    meta: Any = getattr(cls, "_meta", None)
    if meta is None or not _reads_fields_as_pyrlp(cls, meta):
        return None
    serializers = [_sedes_serializer(sedes) for sedes in meta.sedes]
    known = [serializer for serializer in serializers if serializer is not None]
    if len(known) != len(serializers):
        return None
    fields = tuple(zip(meta.field_attrs, known, strict=True))

    def serialize(obj: Any) -> list[Any]:
        values = obj.__dict__
        try:
            return [serializer(values[attr]) for attr, serializer in fields]
        except KeyError:
            raise _NotPlain from None

    return serialize


def _reads_fields_as_pyrlp(cls: type, meta: Any) -> bool:
    """Whether ``cls`` gives its fields as pyrlp stores them: pyrlp iterates an object to
    serialize it, and py-evm reads a transaction's fields through their properties to
    make the message it signs; a class overriding either is left to them."""
    if getattr(cls, "__iter__", None) is not Serializable.__iter__:
        return False
    for name in meta.field_names:
        field = inspect.getattr_static(cls, name, None)
        getter = getattr(field, "fget", None)
        if not isinstance(field, property) or getattr(getter, "__module__", None) != _PYRLP:
            return False
    return True


_PYRLP = Serializable.__module__
"""The module whose properties read a ``Serializable``'s fields where it stores them."""


def _sedes_serializer(sedes: Any) -> Serializer | None:
    """What ``sedes.serialize`` returns for plain values (raising :class:`_NotPlain`
    for others), or None for a sedes this module does not know."""
    known = _SEDES_SERIALIZERS.get(id(sedes))
    if known is not None and known[0] is sedes:
        return known[1]
    made = _make_sedes_serializer(sedes)
    _SEDES_SERIALIZERS[id(sedes)] = (sedes, made)  # the sedes is kept: its id stays its own
    return made


def _make_sedes_serializer(sedes: Any) -> Serializer | None:
    kind = type(sedes)
    if kind is BigEndianInt:
        return _int_serializer(sedes.length)
    if kind is Binary:
        return _binary_serializer(sedes.min_length, sedes.max_length, sedes.allow_empty)
    if kind is CountableList:
        return _countable_list_serializer(sedes.element_sedes, sedes.max_length)
    if kind is List:
        return _list_serializer(list(sedes), sedes.strict)
    if isinstance(sedes, type) and issubclass(sedes, Serializable):
        return _nested_serializer(sedes)
    return None


def _int_serializer(length: int | None) -> Serializer:
    if length is None:

        def serialize(value: Any) -> bytes:
            if type(value) is not int or value < 0:
                raise _NotPlain
            return value.to_bytes((value.bit_length() + 7) // 8, "big")

        return serialize

    def serialize_fixed(value: Any) -> bytes:
        if type(value) is not int or value < 0 or value.bit_length() > 8 * length:
            raise _NotPlain
        return value.to_bytes(length, "big")

    return serialize_fixed


def _binary_serializer(min_length: int, max_length: float, allow_empty: bool) -> Serializer:
    def serialize(value: Any) -> bytes:
        if type(value) is not bytes:
            raise _NotPlain
        size = len(value)
        if not (min_length <= size <= max_length or (allow_empty and size == 0)):
            raise _NotPlain
        return value

    return serialize


def _countable_list_serializer(element_sedes: Any, max_length: int | None) -> Serializer | None:
    element = _sedes_serializer(element_sedes)
    if element is None:
        return None

    def serialize(value: Any) -> list[Any]:
        if type(value) is not tuple and type(value) is not list:
            raise _NotPlain
        if max_length is not None and len(value) > max_length:
            raise _NotPlain
        return [element(item) for item in value]

    return serialize


def _list_serializer(element_sedes: list[Any], strict: bool) -> Serializer | None:
    elements = [_sedes_serializer(sedes) for sedes in element_sedes]
    known = [element for element in elements if element is not None]
    if len(known) != len(elements):
        return None
    size = len(known)

    def serialize(value: Any) -> list[Any]:
        if type(value) is not tuple and type(value) is not list:
            raise _NotPlain
        if len(value) != size:  # pyrlp's non-strict lists zip: left to it
            raise _NotPlain
        return [element(item) for element, item in zip(known, value, strict=True)]

    return serialize


def _nested_serializer(cls: type) -> Serializer | None:
    """A field whose sedes is a ``Serializable`` class: pyrlp serializes any sequence with
    the class's field sedes; its own instances are read field by field."""
    if getattr(getattr(cls, "serialize", None), "__func__", None) is not _SERIALIZE:
        return None
    fields = _make_class_serializer(cls)
    meta: Any = getattr(cls, "_meta", None)
    if fields is None or meta is None:
        return None
    as_list = _list_serializer(list(meta.sedes), True)
    if as_list is None:
        return None

    def serialize(value: Any) -> Any:
        if type(value) is cls:
            return fields(value)
        return as_list(value)

    return serialize


def message_for_signing(transaction: Any) -> bytes:
    """``transaction.get_message_for_signing()``: for py-evm's signed classes, the
    unsigned transaction's encoding made from the signed one's serialized fields."""
    cls = type(transaction)
    message = _SIGNING_MESSAGES.get(getattr(cls, "get_message_for_signing", None))
    if message is not None:
        serialize = _class_serializer(cls)
        if serialize is not None:
            try:
                items = serialize(transaction)
            except _NotPlain:
                pass
            else:
                made = message(transaction, items)
                if made is not None:
                    return made
    fallback: bytes = transaction.get_message_for_signing()
    return fallback


def _same_sedes(first: Any, second: Any) -> bool:
    """Whether two sedes serialize every value alike (pyrlp's sedes, compared by kind)."""
    if first is second:
        return True
    kind = type(first)
    if kind is not type(second):
        return False
    if kind is BigEndianInt:
        return bool(first.length == second.length)
    if kind is Binary:
        return bool(
            (first.min_length, first.max_length, first.allow_empty)
            == (second.min_length, second.max_length, second.allow_empty)
        )
    if kind is CountableList:
        return bool(first.max_length == second.max_length) and _same_sedes(
            first.element_sedes, second.element_sedes
        )
    if kind is List:
        return (
            bool(first.strict == second.strict)
            and len(first) == len(second)
            and all(_same_sedes(a, b) for a, b in zip(first, second, strict=True))
        )
    return False


def _leading_fields(signed: type, unsigned: type) -> int | None:
    """How many leading fields of ``signed`` are ``unsigned``'s, by name and sedes;
    None when they are not all of them."""
    signed_meta: Any = getattr(signed, "_meta", None)
    unsigned_meta: Any = getattr(unsigned, "_meta", None)
    count = len(unsigned_meta.field_names)
    if tuple(signed_meta.field_names[:count]) != tuple(unsigned_meta.field_names) or not all(
        _same_sedes(a, b) for a, b in zip(signed_meta.sedes, unsigned_meta.sedes, strict=False)
    ):
        return None
    return count


_INNER_TYPE_BYTES = frozenset(
    klass.__dict__["_type_byte"]
    for klass in (AccessListTransaction, DynamicFeeTransaction, BlobTransaction, SetCodeTransaction)
)
"""py-evm's ``_type_byte`` of its typed payloads: ``to_bytes(self._type_id)``."""

SigningMessage = Callable[[Any, list[Any]], "bytes | None"]


def _typed_message(signed: type, unsigned: type) -> SigningMessage | None:
    count = _leading_fields(signed, unsigned)
    if count is None:
        return None

    def message(transaction: Any, items: list[Any]) -> bytes | None:
        type_id = transaction._type_id
        if (
            type(type_id) is not int
            or not 0 <= type_id < 256
            or getattr(type(transaction), "_type_byte", None) not in _INNER_TYPE_BYTES
        ):
            return None
        return bytes((type_id,)) + encode_node(items[:count])

    return message


def _legacy_message(signed: type, unsigned: type) -> SigningMessage | None:
    count = _leading_fields(signed, unsigned)
    if count is None:
        return None

    def message(transaction: Any, items: list[Any]) -> bytes | None:
        return encode_node(items[:count])

    return message


def _replay_protected_message(signed: type, unsigned: type) -> SigningMessage | None:
    """Spurious Dragon's: an EIP-155 signature signs the fields but the signature's,
    then the chain id and two empty strings."""
    unprotected = _legacy_message(signed, unsigned)
    if unprotected is None:
        return None

    def message(transaction: Any, items: list[Any]) -> bytes | None:
        if is_eip_155_signed_transaction(transaction):
            chain_id = int_to_big_endian(transaction.chain_id)
            return encode_node([*items[:-3], chain_id, b"", b""])
        return unprotected(transaction, items)

    return message


def _signing_messages() -> dict[Any, SigningMessage]:
    made: dict[Any, SigningMessage] = {}
    for signed, unsigned, kind in (
        (AccessListTransaction, UnsignedAccessListTransaction, _typed_message),
        (DynamicFeeTransaction, UnsignedDynamicFeeTransaction, _typed_message),
        (BlobTransaction, UnsignedBlobTransaction, _typed_message),
        (SetCodeTransaction, UnsignedSetCodeTransaction, _typed_message),
        (FrontierTransaction, FrontierUnsignedTransaction, _legacy_message),
        (HomesteadTransaction, HomesteadUnsignedTransaction, _legacy_message),
        (SpuriousDragonTransaction, SpuriousDragonUnsignedTransaction, _replay_protected_message),
    ):
        message = kind(signed, unsigned)
        if message is not None:
            made[signed.__dict__["get_message_for_signing"]] = message
    return made


_SIGNING_MESSAGES = _signing_messages()
"""py-evm's ``get_message_for_signing`` methods, and how each message is made."""
