"""Spoofed transactions that look each attribute up once.

py-evm runs a call without a signature (``eth_call``, gas estimation, a state
test's transaction with a given sender) as a ``SpoofTransaction``: a wrapper
whose ``__getattr__`` looks every attribute up in its overrides and then on
the wrapped transaction, where it is often a property over an RLP field.
One transaction's envelope reads its fields dozens of times (``sender``
alone about ten), at about 0.8 µs a read: 20-30 µs a transaction, more than
the whole execution of a small call under a native backend.

A transaction is immutable, and so are the wrapper's overrides once it is
built, so an attribute's value never changes: :class:`RememberingSpoof`
keeps each value found in its instance dictionary, where the next read finds
it without ``__getattr__``.  :func:`remember_attributes` gives a spoofed
transaction that form (sharing its target and overrides; anything else is
returned as it is).  Attributes that are not found, and special names, are
looked up every time as before.

The fields every transaction's envelope reads (:data:`EAGER_FIELDS`: the
nonce, gas, fees, destination, value, data, access list, type and ``s``)
are read when the remembering spoof is made, in one pass, rather than at
their first read through ``__getattr__`` and the spoof's own lookup (about
1 µs each, a dozen per transaction).  A transaction is immutable and these
are plain reads of its fields, so reading them earlier gives the values
their first reads would; one that raises is left to be read, and raise,
when asked for, as before.
"""

from __future__ import annotations

from typing import Any

from eth._utils.spoof import SpoofAttributes
from eth.vm.spoof import SpoofTransaction

__all__ = ["RememberingSpoof", "RememberingSpoofs", "remember_attributes"]


class RememberingSpoof(SpoofTransaction):
    """A ``SpoofTransaction`` whose attributes are looked up once each."""

    def __getattr__(self, attr: str) -> Any:
        value = SpoofAttributes.__getattr__(self, attr)
        if not attr.startswith("__"):
            self.__dict__[attr] = value
        return value


EAGER_FIELDS = (
    "nonce",
    "gas",
    "gas_price",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "to",
    "value",
    "data",
    "access_list",
    "type_id",
    "s",
)
"""Transaction fields py-evm's envelope reads of every transaction (validation,
message building, the transaction context), remembered when the spoof is made."""


def remember_attributes(transaction: Any) -> Any:
    """``transaction`` as a :class:`RememberingSpoof` if it is a plain ``SpoofTransaction``,
    with its overrides and :data:`EAGER_FIELDS` already remembered."""
    if type(transaction) is not SpoofTransaction:
        return transaction
    spoof = RememberingSpoof.__new__(RememberingSpoof)
    target = spoof.spoof_target = transaction.spoof_target
    overrides = spoof.overrides = transaction.overrides
    remembered = spoof.__dict__
    for name in EAGER_FIELDS:
        if name not in overrides:
            try:
                remembered[name] = getattr(target, name)
            except Exception:  # read again, and raised, when it is asked for
                continue
    for name, value in overrides.items():
        # An override applies where the spoof's own lookup fails: not to its own
        # attributes (``copy``, ``spoof_target``, ...), nor to special names.
        if not name.startswith("__") and name not in _OWN_NAMES:
            remembered[name] = value
    return spoof


_OWN_NAMES = frozenset(dir(RememberingSpoof)) | {"spoof_target", "overrides"}
"""What a spoof finds without forwarding: its class's attributes and its own two."""


class RememberingSpoofs:
    """A VM mixin: ``apply_transaction`` runs a spoofed transaction as a
    :class:`RememberingSpoof`, which the state's envelope and the VM's receipt
    then read (evmkiln's states do the same for calls made on them directly)."""

    def apply_transaction(self, header: Any, transaction: Any) -> Any:
        return super().apply_transaction(header, remember_attributes(transaction))  # type: ignore[misc]
