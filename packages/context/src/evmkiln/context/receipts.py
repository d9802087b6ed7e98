"""Receipts as py-evm makes them, with the logs bloom computed for less.

A receipt carries a 2048-bit bloom of its logs' addresses and topics: one
Keccak-256 per item.  py-evm computes it with ``eth-bloom`` over ``eth-hash``,
whose automatic backend is pycryptodome when installed, at about 5 µs a hash
(object set-up dominates); a transaction with 5,000 three-topic logs (the
erc20_transfer bench fixture) spent 160 ms in it, ten times its execution
under ``llvm``.  :func:`logs_bloom` computes the same bloom with
:data:`evmkiln.builtins.keccak_backend.keccak256` (pysha3's, 0.7 µs a hash, when it
is installed).

:class:`FastBloomReceipts` is mixed into evmkiln's VM classes: ``make_receipt``
is the VM's own seam (Byzantium's), and the receipt it returns is the one
py-evm's would be, field for field; transactions whose class makes its own
receipts (a tool's subclass) keep them.  Its logs are py-evm's ``Log``
objects, made without the RLP base class's argument handling (about 1 µs
a log, there again 5 ms of that transaction): :func:`log_of`, and for a
whole receipt :func:`logs_of`, in one loop.  The VM's
``validate_receipt`` (called for every transaction) tests each distinct
address and topic against the bloom once, as an integer, and leaves any
failure to py-evm's own check, which words it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.computation import BaseComputation
from eth.vm.forks.byzantium.constants import (
    EIP658_TRANSACTION_STATUS_CODE_FAILURE,
    EIP658_TRANSACTION_STATUS_CODE_SUCCESS,
)
from eth.vm.spoof import SpoofTransaction

from evmkiln.builtins.keccak_backend import keccak256
from evmkiln.context.spoofed_transactions import RememberingSpoof

_LOW_11_BITS = 2047


def _bloom_bits(item: bytes) -> int:
    digest = keccak256(item)
    return (
        (1 << (((digest[0] << 8) | digest[1]) & _LOW_11_BITS))
        | (1 << (((digest[2] << 8) | digest[3]) & _LOW_11_BITS))
        | (1 << (((digest[4] << 8) | digest[5]) & _LOW_11_BITS))
    )


_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_WITHOUT_COUNTER = itemgetter(slice(1, None))


def _items(logs: Iterable[tuple[bytes, Sequence[int], Any]]) -> tuple[set[bytes], set[int]]:
    """The distinct addresses and topics of ``(address, topics, ...)`` entries.

    Gathered by C iterators, no Python per entry (24% fewer instructions
    than a loop for 10,000 logs): a transaction may log thousands of times.
    """
    if not isinstance(logs, (tuple, list)):
        logs = tuple(logs)
    return set(map(_FIRST, logs)), set(chain.from_iterable(map(_SECOND, logs)))


def logs_bloom(log_entries: Iterable[tuple[bytes, Sequence[int], bytes]]) -> int:
    """The logs bloom of ``(address, topics, data)`` entries, as ``eth-bloom`` computes it.

    Each address and each topic (as a 32-byte big-endian word) sets three
    bits, taken from the first six bytes of its hash.  Repeated items are
    hashed once.
    """
    addresses, topics = _items(log_entries)
    bloom = 0
    for address in addresses:
        bloom |= _bloom_bits(address)
    for topic in topics:
        bloom |= _bloom_bits(topic.to_bytes(32, "big"))
    return bloom


def _lays_out_as_pyrlp(cls: Any, probe: dict[str, Any]) -> bool:
    """Whether ``cls``'s fields live where :func:`log_of` and :func:`receipt_of` put
    them (pyrlp's layout): an instance filled there equals one its constructor makes
    from ``probe``."""
    names = cls._meta.field_names
    if cls._meta.field_attrs != tuple(f"_{name}" for name in names):
        return False
    made = object.__new__(cls)
    for name in names:
        setattr(made, f"_{name}", probe[name])
    return bool(made == cls(**probe))


_LEAN_LOGS = _lays_out_as_pyrlp(Log, {"address": b"\x01" * 20, "topics": (2,), "data": b"\x03"})
_LEAN_RECEIPTS = _lays_out_as_pyrlp(
    Receipt,
    {
        "state_root": b"\x01",
        "gas_used": 2,
        "bloom": 3,
        "logs": (Log(b"\x01" * 20, (2,), b"\x03"),),
    },
)


def log_of(address: bytes, topics: tuple[int, ...], data: bytes) -> Log:
    """``Log(address, topics, data)`` for an entry of ``get_log_entries``.

    The fields are stored where the RLP base class's constructor stores them,
    which it reaches after checking its argument count and making lists into
    tuples: an entry's fields are three, and its topics a tuple already.
    Where pyrlp lays them out otherwise, the constructor is called.
    """
    if not _LEAN_LOGS or type(topics) is not tuple:
        return Log(address, topics, data)
    log: Any = object.__new__(Log)
    log._address = address
    log._topics = topics
    log._data = data
    return log  # type: ignore[no-any-return]


def logs_of(entries: Sequence[tuple[bytes, tuple[int, ...], bytes]]) -> tuple[Log, ...]:
    """``log_of`` of every entry of ``get_log_entries``, in order, in one loop.

    :func:`log_of`'s steps in line, without a call per log: 21% fewer
    instructions for a receipt of 10,000 logs.  (Making the logs with
    ``object.__new__`` over ``repeat`` and their fields with ``setattr`` over
    ``map``, no bytecode per log, took 11% *more*: a generic ``setattr`` looks
    the name up where the specialised attribute store does not.)
    """
    if not _LEAN_LOGS:
        return tuple([Log(address, topics, data) for address, topics, data in entries])
    new = object.__new__
    logs: list[Any] = []
    append = logs.append
    for address, topics, data in entries:
        if type(topics) is tuple:
            log = new(Log)
            log._address = address
            log._topics = topics
            log._data = data
        else:
            log = Log(address, topics, data)
        append(log)
    return tuple(logs)


def log_entries(computation: Any) -> tuple[tuple[bytes, tuple[int, ...], bytes], ...]:
    """``computation.get_log_entries()``: for py-evm's own method, its raw entries
    without their counters, cut by a C iterator rather than a generator (16%
    fewer instructions for 10,000 logs).  A method set on the instance is called."""
    if getattr(type(computation), "get_log_entries", None) is BaseComputation.get_log_entries and (
        "get_log_entries" not in getattr(computation, "__dict__", ())
    ):
        return tuple(map(_WITHOUT_COUNTER, computation.get_raw_log_entries()))
    entries: tuple[tuple[bytes, tuple[int, ...], bytes], ...] = computation.get_log_entries()
    return entries


def receipt_of(status: bytes, gas_used: int, bloom: int, logs: tuple[Log, ...]) -> Receipt:
    """``Receipt(state_root=status, gas_used=gas_used, logs=logs, bloom=bloom)``, made
    as :func:`log_of` makes a log (the constructor where pyrlp lays fields out otherwise).

    The constructor's keyword handling (merging, checking for duplicates and
    missing names) costs about twenty calls a transaction.
    """
    if not _LEAN_RECEIPTS:
        return Receipt(state_root=status, gas_used=gas_used, logs=logs, bloom=bloom)
    receipt_class: Any = Receipt  # mypy counts it abstract
    receipt: Any = object.__new__(receipt_class)
    receipt._state_root = status
    receipt._gas_used = gas_used
    receipt._bloom = bloom
    receipt._logs = logs
    return receipt  # type: ignore[no-any-return]


def _is_pyevm_receipt_maker(transaction: Any) -> bool:
    """Whether ``transaction`` makes its receipts with py-evm's own code.

    Looked up on the instance, so that wrappers that forward attributes
    (py-evm's ``SpoofTransaction``) are judged by what they wrap; a typed
    transaction's payload is judged too.  A spoof that overrides neither
    name forwards both to its target, which is asked directly (the spoof
    would raise and catch an ``AttributeError`` for a legacy target's
    ``_inner`` on the way).
    """
    if type(transaction) in _FORWARDING_SPOOFS:
        overrides = transaction.overrides
        if "make_receipt" not in overrides and "_inner" not in overrides:
            forwarded = transaction.__dict__.get("make_receipt", _NOT_KEPT)
            if forwarded is _NOT_KEPT or forwarded == transaction.spoof_target.make_receipt:
                return _is_pyevm_receipt_maker(transaction.spoof_target)
    method = getattr(transaction, "make_receipt", None)
    function = getattr(method, "__func__", method)
    if not str(getattr(function, "__module__", "")).startswith("eth."):
        return False
    inner = getattr(transaction, "_inner", None)
    return inner is None or _is_pyevm_receipt_maker(inner)


_NOT_KEPT: Any = object()
_FORWARDING_SPOOFS = (SpoofTransaction, RememberingSpoof)
"""Spoof classes whose attributes are their overrides, else their target's."""


class _MadeReceipt(threading.local):
    receipt: Any = None


_MADE = _MadeReceipt()
"""The receipt :meth:`FastBloomReceipts.make_receipt` made last on this thread."""


class FastBloomReceipts:
    """A VM mixin: Byzantium's ``make_receipt`` with :func:`logs_bloom` for the bloom."""

    @classmethod
    def make_receipt(cls, base_header: Any, transaction: Any, computation: Any, state: Any) -> Any:
        if not _is_pyevm_receipt_maker(transaction):
            return super().make_receipt(  # type: ignore[misc]
                base_header, transaction, computation, state
            )
        vm: Any = cls  # a py-evm VM class: the mixin comes first in its bases
        gas_used = base_header.gas_used + vm.finalize_gas_used(transaction, computation)
        status = (
            EIP658_TRANSACTION_STATUS_CODE_FAILURE
            if computation.is_error
            else EIP658_TRANSACTION_STATUS_CODE_SUCCESS
        )
        entries = log_entries(computation)
        receipt = receipt_of(
            status,
            gas_used,
            logs_bloom(entries),
            # A tuple already: the RLP base class would rebuild a list item by item.
            logs_of(entries),
        )
        type_id = getattr(transaction, "type_id", None)
        if type_id is not None:
            receipt = transaction.receipt_builder.typed_receipt_class(type_id, receipt)
        _MADE.receipt = receipt
        return receipt

    @classmethod
    def validate_receipt(cls, receipt: Any) -> None:
        """py-evm's check that every log's address and topics are in the bloom.

        The receipt this thread's :meth:`make_receipt` made last passes by
        construction (its bloom is its logs').  Otherwise each distinct item
        is tested once; should one be missing, py-evm's own check runs and
        raises its error for the first log concerned.
        """
        if receipt is _MADE.receipt:
            _MADE.receipt = None
            return
        try:  # a Log is the sequence (address, topics, data)
            missing = logs_bloom(receipt.logs) & ~int(receipt.bloom)
        except Exception:  # not what py-evm's receipts hold: its check decides
            missing = True
        if missing:
            super().validate_receipt(receipt)  # type: ignore[misc]
