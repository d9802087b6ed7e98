"""A block's transaction, receipt and withdrawal roots, built in one pass.

py-evm computes a block's transaction, receipt and withdrawal roots by
inserting the items one by one into a ``HexaryTrie``: every insertion reads,
decodes and rewrites the nodes on its path, in pure Python.  In the workload
benchmark's stream (3,000 transactions in 181 blocks) these roots took half
as long as the state roots, and eth-tester pays them for every transaction
(it mines a block each, and py-evm's ``MiningChain`` builds the pending
block's transaction root again after each transaction it applies: 120 µs
for a one-transaction block).  The keys of these tries are fixed
(``rlp(index)`` for every index below the item count), so the trie can be
built directly from the sorted keys, each node encoded once: the textbook
construction of the Merkle-Patricia trie, ten times faster on 16 items.

:func:`trie_root_and_nodes` returns what py-evm's ``make_trie_root_and_nodes``
returns for the encoded items: the root hash and every node the trie's
lookups read (each node of 32 bytes or more by its hash, and the root by its
hash whatever its size), so that the chain database reads the block's
transactions back from it.  :class:`OneShotBlockTries` is mixed into
evmkiln's VM classes at py-evm's seams for it,
``set_block_transactions_and_withdrawals`` and ``validate_block``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import rlp
from eth.abc import BlockAPI
from eth.constants import BLANK_ROOT_HASH, MAX_UNCLES
from eth.vm.base import VM
from eth.vm.forks.cancun import CancunVM
from eth_utils.exceptions import ValidationError

from evmkiln.builtins.keccak_backend import keccak256
from evmkiln.context.block_transactions import remember_transactions
from evmkiln.context.serializable_encoding import encoding_of
from evmkiln.context.trie_nodes import TrieBuilder, nibbles

TRANSACTION_ROOTS_CACHED = 128
"""Transaction lists whose root is remembered, as py-evm remembers its own: the root of
a mined block is asked for when it is built and again when it is validated."""


def trie_root_and_nodes(encoded_items: Sequence[bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """The root of the trie mapping ``rlp(i)`` to ``encoded_items[i]``, and its nodes."""
    if not encoded_items:
        return BLANK_ROOT_HASH, {}
    keyed = sorted(
        (rlp.encode(index, sedes=rlp.sedes.big_endian_int), item)
        for index, item in enumerate(encoded_items)
    )
    builder = TrieBuilder()
    root = builder.build([(nibbles(key), item) for key, item in keyed], 0)
    return builder.root(root), builder.nodes


@functools.lru_cache(TRANSACTION_ROOTS_CACHED)
def _remembered_root(encoded_items: tuple[bytes, ...]) -> tuple[bytes, dict[bytes, bytes]]:
    return trie_root_and_nodes(encoded_items)


def transaction_root_and_nodes(transactions: Sequence[Any]) -> tuple[bytes, dict[bytes, bytes]]:
    """:func:`trie_root_and_nodes` of the transactions' encodings, remembered by them.

    The nodes are shared between the callers that ask for the same list
    (as py-evm's cache shares them): they are read, never changed.
    """
    return _remembered_root(tuple(encoding_of(transaction) for transaction in transactions))


_NOT_PLAIN, _PLAIN, _PLAIN_WITH_BLOBS = 0, 1, 2


def _block_validation(cls: type) -> int:
    """How ``validate_block`` below :class:`OneShotBlockTries` in ``cls``'s MRO validates:
    ``VM.validate_block`` alone (``_PLAIN``), or under ``CancunVM``'s, which only adds
    the blob checks (``_PLAIN_WITH_BLOBS``), or another way (``_NOT_PLAIN``: a fork or
    a tool's class of its own).  Decided once per class."""
    verdict = cls.__dict__.get("_kiln_block_validation")
    if verdict is None:
        mro = cls.__mro__
        below = mro[mro.index(OneShotBlockTries) + 1 :]
        if VM in below:  # py-evm's abstract API above it declares the method too
            below = below[: below.index(VM) + 1]
        owners = tuple(klass for klass in below if "validate_block" in klass.__dict__)
        plain: dict[tuple[type, ...], int] = {(VM,): _PLAIN, (CancunVM, VM): _PLAIN_WITH_BLOBS}
        verdict = plain.get(owners, _NOT_PLAIN)
        setattr(cls, "_kiln_block_validation", verdict)  # noqa: B010
    return int(verdict)


_VALIDATE_AS_IMPORTED = (VM.validate_block, CancunVM.validate_block)


def _pyevm_validation_as_imported() -> bool:
    """Whether py-evm's ``validate_block`` methods are still the ones this module copies:
    a tool that patches either (a mock in a test) gets it called."""
    return (
        VM.__dict__.get("validate_block"),
        CancunVM.__dict__.get("validate_block"),
    ) == _VALIDATE_AS_IMPORTED


class OneShotBlockTries:
    """VM mixin: ``set_block_transactions_and_withdrawals`` and ``validate_block`` with
    :func:`trie_root_and_nodes` for the transactions, receipts and withdrawals.

    The same block as py-evm's: the same roots in the header, the same nodes
    persisted to the chain database, the same checks of a block in the same
    order with the same errors.
    """

    def set_block_transactions_and_withdrawals(
        self,
        base_block: Any,
        new_header: Any,
        transactions: Sequence[Any],
        receipts: Sequence[Any],
        withdrawals: Sequence[Any] | None = None,
    ) -> Any:
        chaindb: Any = self.chaindb  # type: ignore[attr-defined]
        tx_root, tx_nodes = transaction_root_and_nodes(transactions)
        chaindb.persist_trie_data_dict(tx_nodes)
        remember_transactions(chaindb, tx_root, transactions)
        receipt_root, receipt_nodes = trie_root_and_nodes([encoding_of(r) for r in receipts])
        chaindb.persist_trie_data_dict(receipt_nodes)
        block_fields: dict[str, Any] = {"transactions": transactions}
        header_fields: dict[str, Any] = {
            "transaction_root": tx_root,
            "receipt_root": receipt_root,
        }
        if withdrawals:
            root, nodes = trie_root_and_nodes([encoding_of(w) for w in withdrawals])
            chaindb.persist_trie_data_dict(nodes)
            block_fields["withdrawals"] = withdrawals
            header_fields["withdrawals_root"] = root
        block_fields["header"] = new_header.copy(**header_fields)
        return base_block.copy(**block_fields)

    def validate_block(self, block: BlockAPI) -> None:
        """py-evm's ``VM.validate_block`` (and Cancun's blob checks after it), with the
        transaction root from :func:`transaction_root_and_nodes`.

        A fork or a tool's class between this mixin and py-evm's ``VM`` that
        validates blocks its own way is called instead (:func:`_block_validation`),
        and so is py-evm's own while a tool has patched it.
        """
        vm: Any = self
        validation = _block_validation(type(self))
        if validation == _NOT_PLAIN or not _pyevm_validation_as_imported():
            super().validate_block(block)  # type: ignore[misc]
            return
        if not isinstance(block, vm.get_block_class()):
            raise ValidationError(
                f"This vm ({self!r}) is not equipped to validate a block of type {block!r}"
            )
        if block.is_genesis:
            super().validate_block(block)  # type: ignore[misc]
            return
        vm.validate_header(
            block.header, vm.chaindb.get_block_header_by_hash(block.header.parent_hash)
        )
        tx_root_hash, _ = transaction_root_and_nodes(block.transactions)
        if tx_root_hash != block.header.transaction_root:
            raise ValidationError(
                f"Block's transaction_root ({block.header.transaction_root!r}) "
                f"does not match expected value: {tx_root_hash!r}"
            )
        if len(block.uncles) > MAX_UNCLES:
            raise ValidationError(
                f"Blocks may have a maximum of {MAX_UNCLES} uncles.  Found {len(block.uncles)}."
            )
        state_root = block.header.state_root
        if not vm.chaindb.exists(state_root) and vm.state.make_state_root() != state_root:
            raise ValidationError(
                "`state_root` does not match or was not found in the db.\n"
                f"- state_root: {state_root!r}"
            )
        local_uncle_hash = bytes(keccak256(rlp.encode(block.uncles)))
        if local_uncle_hash != block.header.uncles_hash:
            raise ValidationError(
                "`uncles_hash` and block `uncles` do not match.\n"
                f" - num_uncles       : {len(block.uncles)}\n"
                f" - block uncle_hash : {local_uncle_hash!r}\n"
                f" - header uncle_hash: {block.header.uncles_hash!r}"
            )
        if validation == _PLAIN_WITH_BLOBS:
            vm.validate_block_blobs(block)
