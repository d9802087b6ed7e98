"""Which transactions py-evm's field checks would accept, in one test.

A legacy transaction's ``validate`` (Frontier's, with Homestead's high-``s``
rule, through Spurious Dragon's ``v`` range) runs sixteen checks, each a
call or two, each reading its field through an RLP property: about fifty
Python calls on every transaction; an EIP-1559 transaction's runs ten and
walks its access list.  A transaction whose fields are all plain in-range
integers, bytes and tuples passes every one of them, so :func:`plainly_valid`
and :func:`plainly_valid_dynamic_fee` test exactly that in one function,
and only a transaction they do not accept needs py-evm's checks, which then
raise the error of the first one that fails.

The tests are stricter than py-evm's checks (an ``int`` subclass, a list
for a tuple, goes to py-evm's), never looser.  They apply to classes whose
checks are those (:func:`checks_plainly`, :func:`checks_dynamic_fee_plainly`);
a class that overrides any of them keeps its own.  Used by
:class:`~evmkiln.context.transaction_classes.RecoveredOnce` and
:class:`~evmkiln.context.transaction_classes.RecoveredOnceTyped`.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS, SECPK1_N, UINT_64_MAX, UINT_256_MAX
from eth.rlp.transactions import SignedTransactionMethods
from eth.vm.forks.berlin.transactions import AccountAccesses
from eth.vm.forks.frontier.transactions import FrontierTransaction
from eth.vm.forks.homestead.transactions import HomesteadTransaction
from eth.vm.forks.london.transactions import DynamicFeeTransaction
from eth.vm.forks.spurious_dragon.transactions import SpuriousDragonTransaction

__all__ = [
    "checks_dynamic_fee_plainly",
    "checks_plainly",
    "field_reader",
    "fields_of",
    "plainly_valid",
    "plainly_valid_dynamic_fee",
    "same_fields",
]

LEGACY_FIELDS = ("nonce", "gas_price", "gas", "to", "value", "data", "v", "r", "s")
"""A legacy transaction's RLP fields, in order."""
DYNAMIC_FEE_FIELDS = (
    "chain_id",
    "nonce",
    "max_priority_fee_per_gas",
    "max_fee_per_gas",
    "gas",
    "to",
    "value",
    "data",
    "access_list",
    "y_parity",
    "r",
    "s",
)
"""An EIP-1559 transaction's RLP fields, in order."""

_EIP155_OFFSET = 35
_SECPK1_N2 = SECPK1_N // 2

FieldReader = Callable[[Any], tuple[Any, ...]]
_READERS: weakref.WeakKeyDictionary[type, FieldReader | None] = weakref.WeakKeyDictionary()
_PLAIN: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()
"""Per class that :func:`checks_plainly` or :func:`checks_dynamic_fee_plainly` judged."""
_UNREAD: Any = object()


def field_reader(cls: type) -> FieldReader | None:
    """A reader of an RLP transaction class's fields, in order, as one tuple (None for
    a class without RLP fields); made once per class."""
    known = _READERS.get(cls, _UNREAD)
    if known is not _UNREAD:
        return known  # type: ignore[no-any-return]
    attrs = getattr(getattr(cls, "_meta", None), "field_attrs", None)
    reader: FieldReader | None = None
    if attrs:
        read = attrgetter(*attrs)
        reader = read if len(attrs) > 1 else lambda transaction: (read(transaction),)
    _READERS[cls] = reader
    return reader


def fields_of(transaction: Any) -> tuple[Any, ...] | None:
    """A transaction's field values, in order (None for a class without RLP fields)."""
    reader = field_reader(type(transaction))
    return None if reader is None else reader(transaction)


def same_fields(transaction: Any, remembered: tuple[Any, ...] | None) -> bool:
    """Whether ``transaction``'s fields are the very objects in ``remembered`` (what a
    verdict kept on it was reached with), compared by identity in C."""
    if remembered is None:
        return False
    fields = fields_of(transaction)
    return (
        fields is not None
        and len(fields) == len(remembered)
        and all(map(operator.is_, fields, remembered))
    )


def checks_plainly(cls: type, mixin: type) -> bool:
    """Whether ``cls`` (a subclass of py-evm's legacy transaction with ``mixin`` in
    front) validates its fields as Homestead's legacy transactions, with Spurious
    Dragon's ``v`` range, and then as py-evm's signed transactions do."""
    plain = _PLAIN.get(cls)
    if plain is None:
        owners = [k for k in cls.__mro__ if "validate" in k.__dict__ and k is not mixin]
        plain = _PLAIN[cls] = (
            owners[:3] == [HomesteadTransaction, FrontierTransaction, SignedTransactionMethods]
            and getattr(cls, "v_min", None) is SpuriousDragonTransaction.v_min
            and getattr(cls, "v_max", None) is SpuriousDragonTransaction.v_max
            and _field_names(cls) == LEGACY_FIELDS
        )
    return plain


def _fields(transaction: Any) -> tuple[Any, ...]:
    """The fields of a transaction whose class a ``checks_*`` function accepted."""
    reader = field_reader(type(transaction))
    assert reader is not None  # its class has the RLP fields the check named
    return reader(transaction)


def _field_names(cls: type) -> Any:
    return getattr(getattr(cls, "_meta", None), "field_names", None)


def plainly_valid(transaction: Any) -> bool:
    """Whether every field check of a legacy ``validate`` accepts ``transaction``
    (its class passes :func:`checks_plainly`).

    Those checks are: the nonce below ``2**64 - 1``; gas price, gas, value,
    ``v``, ``r`` and ``s`` unsigned 256-bit integers; ``to`` empty or 20
    bytes; the data bytes; ``r`` and ``s`` in ``[1, n - 1]``, ``s`` at most
    ``n // 2``; ``v`` 27 or 28, or any value from 35 on (EIP-155, whose range
    is the two values of ``v``'s own chain id).  Not the intrinsic gas nor
    the signature: ``validate`` checks those after.
    """
    nonce, gas_price, gas, to, value, data, v, r, s = _fields(transaction)
    return (
        _plain_call(nonce, to, data)
        and _plain_words(gas_price, gas, value)
        and type(v) is int
        and (v == 27 or v == 28 or _EIP155_OFFSET <= v <= UINT_256_MAX)
        and type(r) is int
        and 1 <= r < SECPK1_N
        and type(s) is int
        and 1 <= s <= _SECPK1_N2
    )


def _plain_call(nonce: Any, to: Any, data: Any) -> bool:
    """A nonce below ``2**64 - 1``, ``to`` empty or 20 bytes, the data bytes."""
    return (
        type(nonce) is int
        and 0 <= nonce < UINT_64_MAX
        and type(to) is bytes
        and (len(to) == 20 or to == CREATE_CONTRACT_ADDRESS)
        and type(data) is bytes
    )


def _plain_words(*values: Any) -> bool:
    """Every one of ``values`` an unsigned 256-bit ``int``."""
    return all(type(value) is int and 0 <= value <= UINT_256_MAX for value in values)


def checks_dynamic_fee_plainly(cls: type) -> bool:
    """Whether ``cls`` (a typed transaction's payload class) validates as py-evm's
    EIP-1559 transaction does: ``validate_dynamic_fee_tx`` over its fields."""
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = (
            getattr(cls, "validate", None) is DynamicFeeTransaction.validate
            and _field_names(cls) == DYNAMIC_FEE_FIELDS
        )
    return plain


def plainly_valid_dynamic_fee(transaction: Any) -> bool:
    """Whether ``validate_dynamic_fee_tx`` accepts ``transaction`` (its class passes
    :func:`checks_dynamic_fee_plainly`).

    Its checks are: chain id, fees, gas and value unsigned 256-bit integers;
    the nonce below ``2**64 - 1``; ``to`` empty or 20 bytes; the data bytes;
    the access list a sequence of ``(20-byte address, sequence of integers)``
    pairs; the signature's ``y_parity`` an unsigned 8-bit integer, ``r`` and
    ``s`` unsigned 256-bit ones (their ranges only: not the signature itself,
    nor the intrinsic gas).
    """
    (chain_id, nonce, priority_fee, max_fee, gas, to, value, data, access_list, y_parity, r, s) = (
        _fields(transaction)
    )
    return (
        _plain_call(nonce, to, data)
        and _plain_words(chain_id, max_fee, priority_fee, gas, value, r, s)
        and type(y_parity) is int
        and 0 <= y_parity <= _UINT_8_MAX
        and type(access_list) is tuple
        and all(_plain_access(entry) for entry in access_list)
    )


_UINT_8_MAX = 2**8 - 1


def _plain_access(entry: Any) -> bool:
    """Whether ``entry`` is an access list entry py-evm's check accepts: an
    ``AccountAccesses`` (as decoded) or a pair, of an address and integers."""
    if type(entry) is AccountAccesses:
        address, keys = entry.account, entry.storage_keys
    elif type(entry) is tuple and len(entry) == 2:
        address, keys = entry
    else:
        return False
    return (
        type(address) is bytes
        and len(address) == 20
        and type(keys) is tuple
        and all(type(key) is int for key in keys)
    )
