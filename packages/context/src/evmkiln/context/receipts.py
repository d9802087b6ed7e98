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
receipts (a tool's subclass) keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.byzantium.constants import (
    EIP658_TRANSACTION_STATUS_CODE_FAILURE,
    EIP658_TRANSACTION_STATUS_CODE_SUCCESS,
)

from evmkiln.builtins.keccak_backend import keccak256

_LOW_11_BITS = 2047


def _bloom_bits(item: bytes) -> int:
    digest = keccak256(item)
    return (
        (1 << (((digest[0] << 8) | digest[1]) & _LOW_11_BITS))
        | (1 << (((digest[2] << 8) | digest[3]) & _LOW_11_BITS))
        | (1 << (((digest[4] << 8) | digest[5]) & _LOW_11_BITS))
    )


def logs_bloom(log_entries: Iterable[tuple[bytes, Sequence[int], bytes]]) -> int:
    """The logs bloom of ``(address, topics, data)`` entries, as ``eth-bloom`` computes it.

    Each address and each topic (as a 32-byte big-endian word) sets three
    bits, taken from the first six bytes of its hash.  Repeated items are
    hashed once.
    """
    bloom = 0
    seen: set[bytes] = set()
    for address, topics, _ in log_entries:
        items = [address, *(topic.to_bytes(32, "big") for topic in topics)]
        for item in items:
            if item not in seen:
                seen.add(item)
                bloom |= _bloom_bits(item)
    return bloom


def _is_pyevm_receipt_maker(transaction: Any) -> bool:
    """Whether ``transaction`` makes its receipts with py-evm's own code.

    Looked up on the instance, so that wrappers that forward attributes
    (py-evm's ``SpoofTransaction``) are judged by what they wrap; a typed
    transaction's payload is judged too.
    """
    method = getattr(transaction, "make_receipt", None)
    function = getattr(method, "__func__", method)
    if not str(getattr(function, "__module__", "")).startswith("eth."):
        return False
    inner = getattr(transaction, "_inner", None)
    return inner is None or _is_pyevm_receipt_maker(inner)


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
        entries = computation.get_log_entries()
        receipt = Receipt(
            state_root=status,
            gas_used=gas_used,
            logs=[Log(address, topics, data) for address, topics, data in entries],
            bloom=logs_bloom(entries),
        )
        type_id = getattr(transaction, "type_id", None)
        if type_id is None:  # a legacy transaction
            return receipt
        return transaction.receipt_builder.typed_receipt_class(type_id, receipt)
