"""Writing a block's state changes into py-evm's account and storage tries directly.

py-evm's ``AccountDB`` computes a state root by pushing every changed slot
and account through its journals into ``HexaryTrie``, a key at a time.  When
the flat state wraps that very class, it knows everything py-evm would
compute from: the final fields of every changed account, which storages were
wiped, the final value of every written slot.  :func:`write_account_changes`
applies all of it with :class:`~evmkiln.context.trie_update.TrieUpdate` (one
walk per storage trie and one over the account trie) and gives the same root
and the same nodes, with py-evm's encodings:

* an account is ``rlp([nonce, balance, storage_root, code_hash])`` under
  ``keccak(address)``;
* a slot is ``rlp(value)`` under ``keccak(slot as 32 bytes)``; a zero value
  deletes it;
* storage written to an account that does not exist creates it (py-evm sets
  the storage root of a default account), unless the storage ends empty.

:class:`PendingNodes` holds the new nodes until py-evm persists, as py-evm's
own batch databases do, while the account database reads through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import rlp
from eth.abc import AtomicDatabaseAPI, AtomicWriteBatchAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.backends.base import BaseAtomicDB

from evmkiln.builtins.keccak_backend import keccak256
from evmkiln.context.state_layers import MISSING, AccountRecord
from evmkiln.context.trie_nodes import decode_canonical, encode_node, nibbles
from evmkiln.context.trie_update import Change, TrieUpdate


@dataclass(frozen=True, slots=True)
class AccountChange:
    """What a block did to one account since the trie's root."""

    address: bytes
    record: AccountRecord | object | None
    """The account's final fields; ``None`` if deleted; :data:`MISSING` if only storage changed."""
    wiped: bool
    """Its storage was cleared (before ``slots`` were written)."""
    slots: Mapping[int, int]
    """Slots written (after any wipe), final values."""


@dataclass(slots=True)
class WrittenState:
    root: bytes
    accounts: dict[bytes, AccountRecord | None]
    """Every changed address's account as the new trie holds it (``None``: none)."""
    codes: set[bytes]
    """Code hashes that accounts now point to and did not before: their code must be stored."""


def write_account_changes(
    update: TrieUpdate, root: bytes, changes: Iterable[AccountChange]
) -> WrittenState:
    """Apply ``changes`` to the state trie at ``root``; new nodes land in ``update.nodes``."""
    keyed = sorted(
        ((nibbles(bytes(keccak256(change.address))), change) for change in changes),
        key=lambda pair: pair[0],
    )
    account_changes: list[Change] = []
    written = WrittenState(root, {}, set())
    for key, change in keyed:
        old_encoded = update.get(root, key)
        old = None if old_encoded is None else _decode_account(old_encoded)
        record = change.record
        storage_root = (
            BLANK_ROOT_HASH if old is None or change.wiped or record is None else bytes(old[2])
        )
        if change.slots:
            storage_root = update.update(storage_root, _slot_changes(change.slots))
        fields: AccountRecord | None
        if isinstance(record, tuple):
            fields = cast(AccountRecord, record)
        elif record is MISSING and old is not None:
            fields = (_int(old[0]), _int(old[1]), bytes(old[3]))
        elif storage_root != BLANK_ROOT_HASH:
            fields = (0, 0, EMPTY_SHA3)  # storage alone creates the account
        else:
            fields = None
        written.accounts[change.address] = fields
        if fields is None:
            if old is not None:
                account_changes.append((key, None))
            continue
        nonce, balance, code_hash = fields
        if code_hash != EMPTY_SHA3 and (old is None or bytes(old[3]) != code_hash):
            written.codes.add(code_hash)
        account_changes.append(
            (key, encode_node([_int_bytes(nonce), _int_bytes(balance), storage_root, code_hash]))
        )
    written.root = update.update(root, account_changes)
    return written


def _slot_changes(slots: Mapping[int, int]) -> list[Change]:
    return sorted(
        (
            nibbles(bytes(keccak256(slot.to_bytes(32, "big")))),
            encode_node(_int_bytes(value)) if value else None,
        )
        for slot, value in slots.items()
    )


def _int(encoded: bytes) -> int:
    return int.from_bytes(encoded, "big")


def _int_bytes(value: int) -> bytes:
    """An integer as RLP holds it: big-endian, no leading zeros, zero as nothing."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _decode_account(encoded: bytes) -> list[bytes]:
    try:
        account = decode_canonical(encoded)
    except ValueError:  # not as py-evm writes accounts: pyrlp's verdict
        account = rlp.decode(encoded)
    if not isinstance(account, list) or len(account) != 4:
        raise ValueError(f"not an account: {encoded.hex()}")
    return account


class PendingNodes(BaseAtomicDB):
    """A database with writes held back: ``pending`` is read first and written by :meth:`flush`.

    Writes made through it go straight to the database below (py-evm's own
    persisting does that); only what the caller puts in ``pending`` waits.
    """

    def __init__(self, db: AtomicDatabaseAPI) -> None:
        self.db = db
        self.pending: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.pending.get(key)
        return self.db[key] if value is None else value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def __delitem__(self, key: bytes) -> None:
        held = self.pending.pop(key, None) is not None
        try:
            del self.db[key]
        except KeyError:
            if not held:
                raise

    def _exists(self, key: bytes) -> bool:
        return key in self.pending or key in self.db

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with self.db.atomic_batch() as batch:
            yield batch

    def flush(self) -> None:
        """Write the pending entries to the database below, in one atomic batch."""
        if not self.pending:
            return
        with self.db.atomic_batch() as batch:
            for key, value in self.pending.items():
                batch[key] = value
        self.pending = {}
