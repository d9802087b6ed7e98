"""Which legacy transactions py-evm's field checks would accept, in one test.

A legacy transaction's ``validate`` (Frontier's, with Homestead's high-``s``
rule, through Spurious Dragon's ``v`` range) runs sixteen checks, each a
call or two, each reading its field through an RLP property: about fifty
Python calls on every transaction.  A transaction whose fields are all
plain in-range integers and bytes passes every one of them, so
:func:`plainly_valid` tests exactly that in one function, and only a
transaction it does not accept needs py-evm's checks, which then raise the
error of the first one that fails.

The test is stricter than py-evm's checks (an ``int`` subclass goes to
py-evm's), never looser.  It applies to classes whose checks are those
(:func:`checks_plainly`); a class that overrides any of them keeps its own.
Used by :class:`~evmkiln.context.transaction_classes.RecoveredOnce`.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS, SECPK1_N, UINT_64_MAX, UINT_256_MAX
from eth.rlp.transactions import SignedTransactionMethods
from eth.vm.forks.frontier.transactions import FrontierTransaction
from eth.vm.forks.homestead.transactions import HomesteadTransaction
from eth.vm.forks.spurious_dragon.transactions import SpuriousDragonTransaction

__all__ = ["checks_plainly", "plainly_valid"]

LEGACY_FIELDS = ("nonce", "gas_price", "gas", "to", "value", "data", "v", "r", "s")
"""A legacy transaction's RLP fields, in order."""

_EIP155_OFFSET = 35
_SECPK1_N2 = SECPK1_N // 2

_READERS: dict[type, Any] = {}
"""Per class that :func:`checks_plainly` judged: its fields' reader, or None."""


def checks_plainly(cls: type, mixin: type) -> bool:
    """Whether ``cls`` (a subclass of py-evm's legacy transaction with ``mixin`` in
    front) validates its fields as Homestead's legacy transactions, with Spurious
    Dragon's ``v`` range, and then as py-evm's signed transactions do."""
    known = _READERS.get(cls, _READERS)
    if known is not _READERS:
        return known is not None
    meta = getattr(cls, "_meta", None)
    owners = [k for k in cls.__mro__ if "validate" in k.__dict__ and k is not mixin]
    plain = (
        owners[:3] == [HomesteadTransaction, FrontierTransaction, SignedTransactionMethods]
        and getattr(cls, "v_min", None) is SpuriousDragonTransaction.v_min
        and getattr(cls, "v_max", None) is SpuriousDragonTransaction.v_max
        and getattr(meta, "field_names", None) == LEGACY_FIELDS
    )
    _READERS[cls] = attrgetter(*meta.field_attrs) if plain and meta is not None else None
    return plain


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
    nonce, gas_price, gas, to, value, data, v, r, s = _READERS[type(transaction)](transaction)
    return (
        type(nonce) is int
        and 0 <= nonce < UINT_64_MAX
        and type(gas_price) is int
        and 0 <= gas_price <= UINT_256_MAX
        and type(gas) is int
        and 0 <= gas <= UINT_256_MAX
        and type(value) is int
        and 0 <= value <= UINT_256_MAX
        and type(to) is bytes
        and (len(to) == 20 or to == CREATE_CONTRACT_ADDRESS)
        and type(data) is bytes
        and type(v) is int
        and (v == 27 or v == 28 or _EIP155_OFFSET <= v <= UINT_256_MAX)
        and type(r) is int
        and 1 <= r < SECPK1_N
        and type(s) is int
        and 1 <= s <= _SECPK1_N2
    )
