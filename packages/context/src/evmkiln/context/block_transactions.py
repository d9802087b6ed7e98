"""A block's transactions as the VM set them, not decoded from the database again.

py-evm reads a block's transactions back from the chain database whenever it
makes a block object from a header (``Block.from_header``): the pending
block at each transaction a ``MiningChain`` applies and when it mines, and
the block just persisted, which ``Chain.persist_block`` reads again by hash.
Each read walks the transaction trie and decodes every transaction, in pure
Python: a quarter of mining a block of sixteen transactions.  The VM itself
wrote those transactions moments before
(``set_block_transactions_and_withdrawals``), under the transaction root
that names them.

:func:`remember_transactions` keeps them by that root, per chain database object,
and :class:`RememberedTransactions` (mixed into the block class of every VM
class ``make_vm_class`` makes) hands them to py-evm's own ``from_header`` in
place of the decoding.  A root names its transactions' encodings, so they
are the transactions the database holds; each is handed over only when it
is the object decoding would make: of the same class (a typed transaction's
payload is shared in a wrapper of the builder's class) and holding the same
classes of values (``bytes``, not ``HexBytes``; an access list's entries as
py-evm's ``AccountAccesses``, not the tuples a caller passed).  A block with
any other transaction (a tool's own class, a spoof, a field of another
class) is decoded as before.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from eth.vm.forks.berlin.transactions import TypedTransaction
from rlp import Serializable
from rlp.sedes import BigEndianInt, Binary, CountableList, List

from evmkiln.context.transaction_validation import fields_of, same_fields

REMEMBERED_ROOTS = 32
"""Transaction roots remembered per chain database (the oldest forgotten first):
a block being built changes its root with each transaction."""

_REMEMBERED: weakref.WeakKeyDictionary[Any, dict[bytes, tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
_PAYLOAD_CLASSES: dict[tuple[type[Any], int], type[Any]] = {}


def remember_transactions(chaindb: Any, root: bytes, transactions: Sequence[Any]) -> None:
    """Remember ``transactions``, just persisted to ``chaindb`` under ``root``."""
    try:
        with _LOCK:
            remembered = _REMEMBERED.setdefault(chaindb, {})
            remembered.pop(root, None)
            remembered[root] = tuple(transactions)
            while len(remembered) > REMEMBERED_ROOTS:
                del remembered[next(iter(remembered))]
    except TypeError:  # a chain database that cannot be weakly referenced or hashed
        return


def remembered_transactions(chaindb: Any, root: bytes, builder: Any) -> tuple[Any, ...] | None:
    """The transactions ``builder`` would decode from ``chaindb`` under ``root``, if
    remembered and each can be handed over as decoding would make it; else None."""
    try:
        transactions = _REMEMBERED.get(chaindb, {}).get(root)
    except TypeError:
        return None
    if transactions is None:
        return None
    decoded = []
    for transaction in transactions:
        made = _as_decoded(transaction, builder)
        if made is None:
            return None
        decoded.append(made)
    return tuple(decoded)


def _as_decoded(transaction: Any, builder: Any) -> Any | None:
    """``transaction`` as ``builder.decode(transaction.encode())`` would make it, or None."""
    cls = type(transaction)
    if cls is builder.legacy_signed:
        return transaction if _holds_decoded_values(transaction) else None
    typed = getattr(builder, "typed_transaction", None)
    if typed is None or not isinstance(transaction, TypedTransaction):
        return None
    payload = transaction._inner
    type_id: int = transaction.type_id  # type: ignore[assignment]  # set on every typed one
    key = (typed, type_id)
    expected = _PAYLOAD_CLASSES.get(key)
    if expected is None:  # the payload class this type decodes to: decode once to see
        try:
            expected = type(typed.decode(transaction.encode())._inner)
        except Exception:  # py-evm's own decoding of the block raises its own error
            return None
        _PAYLOAD_CLASSES[key] = expected
    if type(payload) is not expected or not _holds_decoded_values(payload):
        return None
    return transaction if cls is typed else typed(type_id, payload)


_DECODED_VALUES = "_kiln_holds_decoded_values"
"""Kept on a transaction found to hold what decoding makes: the field values it held."""


def _holds_decoded_values(transaction: Any) -> bool:
    """:func:`_as_decoding_makes` of ``transaction`` with its own class, remembered on it
    when true, for as long as its fields are the very objects judged (a block is made
    from its header several times while it is built)."""
    state = transaction.__dict__
    if same_fields(transaction, state.get(_DECODED_VALUES)):
        return True
    if not _as_decoding_makes(transaction, type(transaction)):
        return False
    state[_DECODED_VALUES] = fields_of(transaction)
    return True


def _as_decoding_makes(value: Any, sedes: Any) -> bool:
    """Whether ``value`` holds what decoding its encoding with ``sedes`` would: the same
    classes all the way down (an ``int``, not a ``bool``; ``bytes``, not a subclass; an
    access list's entries as py-evm's serializable class, not tuples).  The values
    are equal already (they have the encoding); a sedes not known here says no."""
    kind = type(sedes)
    if kind is BigEndianInt:
        return type(value) is int
    if kind is Binary:
        return type(value) is bytes
    if kind is CountableList:
        element = sedes.element_sedes
        return type(value) is tuple and all(_as_decoding_makes(item, element) for item in value)
    if kind is List:
        return (
            type(value) is tuple
            and len(value) == len(sedes)
            and all(_as_decoding_makes(item, each) for item, each in zip(value, sedes, strict=True))
        )
    if isinstance(sedes, type) and issubclass(sedes, Serializable):
        if type(value) is not sedes:
            return False
        items: Any = value  # its fields, in order
        fields: tuple[tuple[str, Any], ...] = sedes._meta.fields
        return all(
            _as_decoding_makes(item, field_sedes)
            for item, (_, field_sedes) in zip(items, fields, strict=True)
        )
    return False


class _KnownTransactions:
    """A chain database whose ``get_block_transactions`` at one root answers from memory."""

    def __init__(self, chaindb: Any, root: bytes, transactions: tuple[Any, ...]) -> None:
        self._chaindb = chaindb
        self._root = root
        self._transactions = transactions

    def get_block_transactions(self, header: Any, decoder: Any) -> tuple[Any, ...]:
        if header.transaction_root == self._root:
            return self._transactions
        return self._chaindb.get_block_transactions(header, decoder)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chaindb, name)


class RememberedTransactions:
    """Block mixin: ``from_header`` with the transactions :func:`remember_transactions` kept."""

    @classmethod
    def from_header(cls, header: Any, chaindb: Any) -> Any:
        root = header.transaction_root
        known = remembered_transactions(chaindb, root, cls.get_transaction_builder())  # type: ignore[attr-defined]
        if known is not None:
            chaindb = _KnownTransactions(chaindb, root, known)
        return super().from_header(header, chaindb)  # type: ignore[misc]
