"""A flat, journaled account database over py-evm's own.

py-evm's ``AccountDB`` keeps every change in journal databases stacked over
the Merkle-Patricia trie and decodes RLP on every read: a storage read costs
about 15 µs warm and tens of µs cold, a snapshot records a checkpoint in one
journal per dirty account.  :class:`FlatAccountDB` answers the EVM from plain
dicts instead and reaches the trie only

* the first time a key is read at a given state root (and never again at
  that root, even from another state object: see
  :mod:`evmkiln.context.state_layers`), and
* when py-evm asks for a state root or persists: the changes are then
  written into the wrapped database, which computes the root as it always
  does.  When the wrapped database is py-evm's own ``AccountDB``, the flat
  state writes the tries itself instead (:mod:`evmkiln.context.account_trie`:
  the same root and nodes in one walk per trie, rather than a walk per key
  through py-evm's journals).

It plugs in where py-evm lets a fork choose its account database (the state
class's ``account_db_class``) and wraps whatever class that was, so a tool's
own account database (one that fetches state over RPC, say) keeps working
underneath.

Layers of state, newest first, as py-evm's journals have them:

* ``_current``: storage written by the running transaction, with
  ``_current_cleared`` (accounts whose storage the transaction wiped);
* ``_locked``: storage written by earlier transactions since the last write to
  the trie (``lock_changes`` moves the current layer here), with
  ``_locked_cleared``.  "Original" storage values (EIP-2200's
  ``from_journal=False``) are read from here down;
* ``_accounts``: accounts changed since the last write to the trie;
* ``_reads``: accounts read from the layers below since then, as they were
  read (a transaction reads its sender, recipient and coinbase a dozen
  times; the layers' walk is the costlier part of each read);
* the :class:`~evmkiln.context.state_layers.StateLayer` of the root the trie
  is at, then the trie.

Every change also appends how to undo it to one journal list; a checkpoint
is a position in that list, so a snapshot costs an append and a revert undoes
exactly what happened since.  EIP-2929's warm sets are journaled the same way
(a reverted frame's accesses are cold again).

Deviations from py-evm's behaviour are bugs; the differential tests run the
same messages and transactions on both and compare state roots.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from functools import partial
from typing import Any, ClassVar

from eth.abc import AccountDatabaseAPI, AtomicDatabaseAPI, MetaWitnessAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.account import AccountDB
from eth.db.journal import get_next_checkpoint
from eth.db.witness import MetaWitness
from eth.typing import JournalDBCheckpoint
from eth.validation import validate_canonical_address, validate_uint64, validate_uint256
from eth_typing import Address, Hash32

from evmkiln.builtins.keccak_backend import keccak256 as keccak
from evmkiln.context.account_trie import AccountChange, PendingNodes, write_account_changes
from evmkiln.context.journal_checkpoints import (
    TRANSIENT_ENTRY,
    Checkpoints,
    SharedJournal,
    close_checkpoint,
)
from evmkiln.context.state_layers import MISSING, AccountRecord, StateLayer, StateLayers
from evmkiln.context.trie_update import TrieUpdate
from evmkiln.forks.storage import account_has_storage

_BLANK_ACCOUNT: AccountRecord = (0, 0, EMPTY_SHA3)
"""The fields of an account that does not exist, and of an empty one that does."""

# Journal entries: (kind, *undo data).
_ACCOUNT = 0  # (_ACCOUNT, address, previous record or MISSING)
_SLOT = 1  # (_SLOT, address, slot, previous value or MISSING)
_WIPE = 2  # (_WIPE, address, previous slot dict or None, was cleared)
_WARM_ADDRESS = 3  # (_WARM_ADDRESS, address)
_WARM_SLOT = 4  # (_WARM_SLOT, (address, slot))
_TRANSIENT = TRANSIENT_ENTRY  # (_TRANSIENT, values, key, previous value or MISSING)


def _check_address(address: Any) -> None:
    """py-evm's account database's check of an address, with its error."""
    if type(address) is not bytes or len(address) != 20:
        validate_canonical_address(address, title="Storage Address")


class FlatAccountDB(AccountDatabaseAPI):
    """py-evm's account database interface over flat dicts and a wrapped database.

    Made per VM class by :func:`flat_account_db_class`, which sets
    ``inner_class`` (the database it wraps) and ``layers`` (the state known by
    root, shared by every state object of the class).
    """

    inner_class: ClassVar[type[AccountDatabaseAPI]]
    layers: ClassVar[StateLayers]
    writes_tries: ClassVar[bool]
    """The wrapped class is py-evm's ``AccountDB``: the flat state writes its tries itself."""

    __slots__ = (
        "_accounts",
        "_checkpoints",
        "_current",
        "_current_cleared",
        "_db",
        "_inner_db",
        "_inner_source",
        "_journal",
        "_layer",
        "_lent",
        "_locked",
        "_locked_cleared",
        "_new_codes",
        "_reads",
        "_root",
        "_scope",
        "_stamps",
        "_warm_addresses",
        "_warm_slots",
    )

    def __init__(self, db: AtomicDatabaseAPI, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        self._db: PendingNodes | None = None
        layer_key: Hashable = state_root
        self._scope: object | None = None
        """What the layers' keys hold besides the root (:func:`_scope_of`)."""
        if self.writes_tries:
            self._db = PendingNodes(db)
            db = self._db
        else:
            self._scope = _scope_of(db)
            layer_key = (self._scope, state_root)
        self._inner_db: AccountDatabaseAPI | None = None
        self._inner_source: tuple[AtomicDatabaseAPI, Hash32] = (db, state_root)
        """What the wrapped database is built from when first needed (see :attr:`_inner`)."""
        self._root: Hash32 | None = state_root if self.writes_tries else None
        """The inner database's root when this layer alone moves it (py-evm's
        ``AccountDB``, written by :meth:`_write_tries`): every message's snapshot
        reads it, and py-evm's trie answers through three layers."""
        self._layer: StateLayer = self.layers.at(layer_key)
        self._accounts: dict[bytes, AccountRecord | None] = {}
        self._reads: dict[bytes, AccountRecord | None] = {}
        """Accounts as ``_layer`` (or the trie under it) gave them: valid until it changes.
        At most ``layers.max_entries`` of them."""
        self._new_codes: dict[bytes, bytes] = {}
        self._current: dict[bytes, dict[int, int]] = {}
        self._current_cleared: set[bytes] = set()
        self._locked: dict[bytes, dict[int, int]] = {}
        self._locked_cleared: set[bytes] = set()
        self._warm_addresses: set[bytes] = set()
        self._warm_slots: set[tuple[bytes, int]] = set()
        self._journal: list[tuple[Any, ...]] = []
        self._checkpoints: Checkpoints = []
        """(checkpoint, journal length when it was recorded), oldest first."""
        self._stamps: dict[bytes, object] = {}
        """Per address, the stamp :meth:`storage_stamp` handed out (see there)."""
        self._lent: SharedJournal | None = None
        """What :meth:`share_journal` lent last (see :meth:`lent_to`)."""

    def _layer_key(self, root: bytes) -> Hashable:
        """The key of ``root``'s layer: the root, or with the scope of a tool's database."""
        scope = self._scope
        return root if scope is None else (scope, root)

    @property
    def inner(self) -> AccountDatabaseAPI:
        """The wrapped account database (holding the state as of the last write)."""
        return self._inner

    @property
    def _inner(self) -> AccountDatabaseAPI:
        """The wrapped database, built on first use.

        py-evm builds a state object, hence an account database, for every
        block and every ``eth_call``; one whose reads all come from the
        layers and which writes nothing never needs the wrapped database
        (py-evm's ``AccountDB`` costs 6.5 µs to build, a tool's own may
        cost more).
        """
        inner = self._inner_db
        if inner is None:
            inner = self._inner_db = self.inner_class(*self._inner_source)
        return inner

    # -- roots -------------------------------------------------------------
    @property
    def state_root(self) -> Hash32:
        # The root of the trie, without the pending changes: as py-evm's.
        root = self._root
        if root is not None:
            return root
        inner = self._inner_db
        return self._inner_source[1] if inner is None else inner.state_root

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        inner = self._inner_db
        if value != (self._inner_source[1] if inner is None else inner.state_root):
            self._stamps.clear()
            if inner is None:
                self._inner_source = (self._inner_source[0], value)
            else:
                inner.state_root = value
            self._layer = self.layers.at(self._layer_key(value))
            self._reads = {}
            if self._root is not None:
                self._root = value

    def has_root(self, state_root: bytes) -> bool:
        return self._inner.has_root(state_root)

    # -- accounts ----------------------------------------------------------
    def _account(self, address: bytes) -> AccountRecord | None:
        try:
            record = self._accounts.get(address, MISSING)
        except TypeError:  # unhashable: not an address (py-evm's error)
            _check_address(address)
            raise
        if record is MISSING:
            reads = self._reads
            record = reads.get(address, MISSING)
            if record is MISSING:
                if type(address) is not bytes or len(address) != 20:
                    _check_address(address)
                record = self._layer.account(address)
                if record is MISSING:
                    record = self._read_account(address)
                if len(reads) < self.layers.max_entries:  # bounded as a layer's reads are
                    reads[address] = record  # type: ignore[assignment]  # not MISSING here
        return record  # type: ignore[return-value]

    def _trie_account(self, address: bytes) -> AccountRecord | None:
        """The account as the trie holds it (``None``: no account).

        The fields first: py-evm caches the account it decodes for them, while
        ``account_exists`` walks the trie again on every call; an account with
        a nonce, a balance or code exists, so only an all-default one needs
        asking.
        """
        inner = self._inner
        canonical = Address(address)
        record = (
            inner.get_nonce(canonical),
            inner.get_balance(canonical),
            bytes(inner.get_code_hash(canonical)),
        )
        if record == _BLANK_ACCOUNT and not inner.account_exists(canonical):
            return None
        return record

    def _read_account(self, address: bytes) -> AccountRecord | None:
        record = self._trie_account(address)
        layer = self._layer
        if layer.read_entries < self.layers.max_entries:
            layer.accounts[address] = record
            layer.read_entries += 1
        return record

    def _set_account(self, address: bytes, record: AccountRecord | None) -> None:
        accounts = self._accounts
        self._journal.append((_ACCOUNT, address, accounts.get(address, MISSING)))
        accounts[address] = record

    def get_balance(self, address: Address) -> int:
        record = self._account(address)
        return 0 if record is None else record[1]

    def set_balance(self, address: Address, balance: int) -> None:
        validate_uint256(balance, title="Account Balance")
        nonce, _, code_hash = self._account(address) or _BLANK_ACCOUNT
        self._set_account(address, (nonce, balance, code_hash))

    def get_nonce(self, address: Address) -> int:
        record = self._account(address)
        return 0 if record is None else record[0]

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_uint64(nonce, title="Nonce")
        _, balance, code_hash = self._account(address) or _BLANK_ACCOUNT
        self._set_account(address, (nonce, balance, code_hash))

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code_hash(self, address: Address) -> Hash32:
        record = self._account(address)
        return EMPTY_SHA3 if record is None else Hash32(record[2])

    def get_code(self, address: Address) -> bytes:
        record = self._account(address)
        if record is None or record[2] == EMPTY_SHA3:
            return b""
        code_hash = record[2]
        code = self._new_codes.get(code_hash)
        if code is None:
            code = self._layer.code(code_hash)
            if code is None:
                # The account's code hash is the trie's (new code is in _new_codes).
                code = bytes(self._inner.get_code(Address(address)))
                self._layer.codes[code_hash] = code
        return code

    def set_code(self, address: Address, code: bytes) -> None:
        if not isinstance(code, bytes):
            raise TypeError(f"code must be bytes, not {type(code).__name__}")
        nonce, balance, _ = self._account(address) or _BLANK_ACCOUNT
        code_hash = bytes(keccak(code))
        self._new_codes[code_hash] = code
        self._set_account(address, (nonce, balance, code_hash))

    def delete_code(self, address: Address) -> None:
        nonce, balance, _ = self._account(address) or _BLANK_ACCOUNT
        self._set_account(address, (nonce, balance, EMPTY_SHA3))

    def account_has_code_or_nonce(self, address: Address) -> bool:
        record = self._account(address)
        return record is not None and (record[0] != 0 or record[2] != EMPTY_SHA3)

    def account_has_storage(self, address: Address) -> bool:
        """Whether the account has a non-zero slot: EIP-7610's third kind of collision.

        Writes of the running and earlier transactions count first, down to
        the newest wipe; below it, the trie's storage root (through the wrapped
        database, which holds the storage as of the last write).  A trie slot
        zeroed by a pending write still counts: only code can write storage,
        and an account with code is a collision anyway, so the question is
        never asked of such an account.
        """
        for slots, cleared in (
            (self._current, self._current_cleared),
            (self._locked, self._locked_cleared),
        ):
            written = slots.get(address)
            if written and any(written.values()):
                return True
            if address in cleared:
                return False
        return account_has_storage(self._inner, address)

    def account_exists(self, address: Address) -> bool:
        return self._account(address) is not None

    def touch_account(self, address: Address) -> None:
        # Touching an account that exists changes nothing (py-evm writes the same
        # record back); one that does not becomes an empty account.
        if self._account(address) is None:
            self._set_account(address, _BLANK_ACCOUNT)

    def account_is_empty(self, address: Address) -> bool:
        record = self._account(address)
        return record is None or (record[0] == 0 and record[1] == 0 and record[2] == EMPTY_SHA3)

    def delete_account(self, address: Address) -> None:
        self._wipe(address)
        self._set_account(address, None)

    # -- storage -----------------------------------------------------------
    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        try:
            if from_journal:
                slots = self._current.get(address)
                if slots is not None:
                    value = slots.get(slot)
                    if value is not None:
                        return value
                if address in self._current_cleared:
                    return 0
            elif address in self._current_cleared:
                # py-evm reads original values from below the wipe too: only the
                # earlier transactions' pending writes survive it.
                slots = self._locked.get(address)
                return 0 if slots is None else slots.get(slot, 0)
        except TypeError:  # unhashable: not an address (py-evm's error)
            _check_address(address)
            raise
        return self._committed_slot(address, slot)

    def current_and_original(self, address: bytes, slot: int) -> tuple[int, int]:
        """``get_storage(address, slot)`` and ``get_storage(..., from_journal=False)``
        in one pass: a compiled frame's first read of a slot wants both."""
        if address in self._current_cleared:
            slots = self._locked.get(address)
            original = 0 if slots is None else slots.get(slot, 0)
            current = 0
        else:
            original = current = self._committed_slot(address, slot)
        slots = self._current.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                current = value
        return current, original

    def load_slot(self, address: bytes, slot: int) -> tuple[bool, int, int]:
        """SLOAD's whole visit: ``(was cold, current, original)``, the slot warmed.

        ``mark_storage_warm`` and :meth:`current_and_original` in one call: a
        compiled frame's first read of a slot wants all three.
        """
        key = (address, slot)
        warm = self._warm_slots
        cold = key not in warm
        if cold:
            warm.add(key)
            self._journal.append((_WARM_SLOT, key))
        if address in self._current_cleared or address in self._locked:
            current, original = self.current_and_original(address, slot)
            return cold, current, original
        # The common case, :meth:`current_and_original` and :meth:`_committed_slot` in
        # line: no earlier transaction of this state wrote the account's storage (nor
        # wiped it: ``_locked_cleared`` holds only accounts in ``_locked``).
        layer_slots = self._layer.storage.get(address)
        known = None if layer_slots is None else layer_slots.get(slot)
        base = self._base_slot(address, slot) if known is None else known
        slots = self._current.get(address)
        written = None if slots is None else slots.get(slot)
        return cold, base if written is None else written, base

    def _committed_slot(self, address: bytes, slot: int) -> int:
        """The slot as earlier transactions left it (their pending writes, else the trie)."""
        slots = self._locked.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                return value
        if address in self._locked_cleared:
            return 0
        return self._base_slot(address, slot)

    def _base_slot(self, address: bytes, slot: int) -> int:
        value = self._layer.slot(address, slot)
        if value is None:
            value = int(self._inner.get_storage(Address(address), slot))
            layer = self._layer
            if layer.read_entries < self.layers.max_entries:
                slots = layer.storage.get(address)
                if slots is None:
                    slots = layer.storage[address] = {}
                slots[slot] = value
                layer.read_entries += 1
        return value

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        validate_uint256(value, title="Storage Value")
        validate_uint256(slot, title="Storage Slot")
        self.write_slot(address, slot, value)

    def write_slot(self, address: bytes, slot: int, value: int) -> None:
        """:meth:`set_storage` for a slot and value that are 256-bit words already
        (a compiled frame's SSTORE, or its storage table's write-back): py-evm's
        range checks, two calls per write, are left out; the address is checked."""
        if type(address) is not bytes or len(address) != 20:
            _check_address(address)
        if self._stamps:
            self._stamps.pop(address, None)
        slots = self._current.get(address)
        if slots is None:
            slots = self._current[address] = {}
        self._journal.append((_SLOT, address, slot, slots.get(slot, MISSING)))
        slots[slot] = value

    def delete_storage(self, address: Address) -> None:
        self._wipe(address)
        # py-evm sets the storage root of the account, which creates it.
        self.touch_account(address)

    def _wipe(self, address: bytes) -> None:
        _check_address(address)
        self._stamps.pop(address, None)
        cleared = self._current_cleared
        self._journal.append((_WIPE, address, self._current.get(address), address in cleared))
        self._current[address] = {}
        cleared.add(address)

    # -- EIP-2929 ------------------------------------------------------------
    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm_addresses

    def mark_address_warm(self, address: Address) -> None:
        if address not in self._warm_addresses:
            self._warm_addresses.add(address)
            self._journal.append((_WARM_ADDRESS, address))

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return (address, slot) in self._warm_slots

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        key = (address, slot)
        if key not in self._warm_slots:
            self._warm_slots.add(key)
            self._journal.append((_WARM_SLOT, key))

    # -- storage stamps ------------------------------------------------------
    def storage_stamp(self, address: bytes) -> object:
        """A token that stays this database's answer for ``address`` for as long as the
        account's storage and the transaction's warm slots stay as they are now.

        A native backend keeps the storage table a frame filled (slot values,
        originals, warm) for the next frame of the transaction on the same
        account, and uses it only if the stamp it kept is still the one
        handed out here.  The stamp is dropped by every write or wipe of the
        account's storage, by every revert (warm slots may turn cold again;
        a revert drops every stamp), at the end of the transaction
        (originals change, warm sets are cleared) and when the root moves
        under the database.  Transient storage is covered only where it
        shares this database's journal (:meth:`share_journal`): its writes
        drop the account's stamp then.
        """
        stamps = self._stamps
        stamp = stamps.get(address)
        if stamp is None:
            stamp = stamps[address] = object()
        return stamp

    def lent_to(self, shared: SharedJournal | None) -> bool:
        """Whether ``shared`` is what :meth:`share_journal` lent last (None: whether
        it has lent nothing yet).

        Only the transient storage that took that loan drops this database's
        stamps for certain: another state's, on the same database, shared an
        earlier loan and may have written since without a stamp in sight.
        """
        return shared is self._lent

    # -- checkpoints -------------------------------------------------------
    def share_journal(self) -> SharedJournal:
        """This database's undo journal and open checkpoints, for the state's transient
        storage to journal its writes in (entries of kind
        :data:`~evmkiln.context.journal_checkpoints.TRANSIENT_ENTRY`).

        Then one checkpoint, recorded, committed or discarded here, covers both,
        and a message's snapshot costs one call instead of two.  The storage
        stamps are lent too: a transient write drops the account's stamp, so
        that a stamp then vouches for the account's transient storage as well
        (see :meth:`storage_stamp`).  The containers are the database's own
        for its whole life (changed in place only).
        """
        lent = self._lent = SharedJournal(self._journal, self._checkpoints, self._stamps)
        return lent

    def record(self) -> JournalDBCheckpoint:
        # py-evm's counter: the state records its transient storage under the
        # same checkpoint, so the identifier must be unique across journals.
        checkpoint = get_next_checkpoint()
        self._checkpoints.append((checkpoint, len(self._journal)))
        return checkpoint

    def open_message(self, address: Address) -> JournalDBCheckpoint:
        """``record()`` then ``touch_account(address)``: the journal work a message
        without a value transfer does before its frame, in one call."""
        checkpoint = get_next_checkpoint()
        self._checkpoints.append((checkpoint, len(self._journal)))
        if self._account(address) is None:
            self._set_account(address, _BLANK_ACCOUNT)
        return checkpoint

    def discard(self, checkpoint: JournalDBCheckpoint) -> None:
        position = close_checkpoint(self._checkpoints, checkpoint)
        if self._stamps:
            self._stamps.clear()
        journal = self._journal
        accounts = self._accounts
        current = self._current
        while len(journal) > position:
            entry = journal.pop()
            kind = entry[0]
            if kind == _SLOT:
                _, address, slot, previous = entry
                slots = current[address]
                if previous is MISSING:
                    del slots[slot]
                else:
                    slots[slot] = previous
            elif kind == _ACCOUNT:
                _, address, previous = entry
                if previous is MISSING:
                    del accounts[address]
                else:
                    accounts[address] = previous
            elif kind == _WIPE:
                _, address, previous_slots, was_cleared = entry
                if previous_slots is None:
                    del current[address]
                else:
                    current[address] = previous_slots
                if not was_cleared:
                    self._current_cleared.discard(address)
            elif kind == _WARM_ADDRESS:
                self._warm_addresses.discard(entry[1])
            elif kind == _WARM_SLOT:
                self._warm_slots.discard(entry[1])
            else:
                _, values, key, previous = entry
                if previous is MISSING:
                    del values[key]
                else:
                    values[key] = previous

    def commit(self, checkpoint: JournalDBCheckpoint) -> None:
        close_checkpoint(self._checkpoints, checkpoint)
        if not self._checkpoints:
            self._journal.clear()  # nothing can be reverted past this point any more

    def lock_changes(self) -> None:
        self._lock_storage()
        self._warm_addresses.clear()
        self._warm_slots.clear()

    def _lock_storage(self) -> None:
        """The running transaction's storage becomes the earlier transactions' (un-revertable)."""
        self._stamps.clear()
        locked = self._locked
        for address in self._current_cleared:
            locked[address] = {}
            self._locked_cleared.add(address)
        for address, slots in self._current.items():
            target = locked.get(address)
            if target is None:
                locked[address] = slots
            else:
                target.update(slots)
        self._current = {}
        self._current_cleared = set()
        self._journal.clear()
        self._checkpoints.clear()

    # -- writing to the trie -------------------------------------------------
    def make_state_root(self) -> Hash32:
        self._flush()
        return self._inner.make_state_root()

    def persist(self) -> MetaWitnessAPI:
        """Write the pending changes and persist; py-evm's ``MetaWitness`` of the wrapped database.

        Over py-evm's ``AccountDB`` (:attr:`writes_tries`) the wrapped database
        is built anew after every write (:meth:`_write_tries`), and one built
        and persisted with nothing asked of it writes nothing and reports an
        empty witness: that witness is returned without building it (two per
        mined block, a fifth of a small block's Python).  A tool's database
        is always asked.
        """
        self._flush()
        if self.writes_tries and self._inner_db is None:
            witness: MetaWitnessAPI = MetaWitness(set(), {})
        else:
            witness = self._inner.persist()
        if self._db is not None:
            self._db.flush()
        return witness

    def _flush(self) -> None:
        """Write every pending change into the wrapped database; remember them by the new root."""
        self._lock_storage()
        if not self._accounts and not self._locked:
            return
        if self._db is not None:
            self._write_tries(self._db)
            return
        inner = self._inner
        diff = StateLayer(parent=None)
        cleared = self._locked_cleared
        for address in self._accounts.keys() | self._locked.keys():
            canonical = Address(address)
            known = address in self._accounts
            record = self._accounts.get(address)
            slots = self._locked.get(address)
            if known and record is None:
                inner.delete_account(canonical)
                diff.cleared.add(address)
                diff.accounts[address] = None
            elif address in cleared:
                inner.delete_storage(canonical)
                diff.cleared.add(address)
            if record is not None:
                self._write_account(canonical, record, self._layer.account(address))
                diff.accounts[address] = record
            if slots:
                for slot, value in slots.items():
                    inner.set_storage(canonical, slot, value)
                diff.storage[address] = dict(slots)
        diff.codes.update(self._new_codes)
        parent = self._layer
        root = inner.make_state_root()
        for address in diff.storage:
            if diff.accounts.get(address, MISSING) is None or (
                address not in diff.accounts and not isinstance(parent.account(address), tuple)
            ):
                # Storage written to an account that does not exist (or that the layers
                # know nothing of) creates the account when py-evm computes its storage
                # root: ask the trie, so the new layer never leaves a later read to an
                # older layer's "no account".
                diff.accounts[address] = self._trie_account(address)
        self._layer = self.layers.derive(parent, self._layer_key(root), diff)
        self._accounts = {}
        self._reads = {}
        self._locked = {}
        self._locked_cleared = set()
        self._new_codes = {}

    def _write_tries(self, db: PendingNodes) -> None:
        """:meth:`_flush` over py-evm's ``AccountDB``: write the tries, then read them anew."""
        accounts, locked, cleared = self._accounts, self._locked, self._locked_cleared
        changes = [
            AccountChange(
                address,
                accounts.get(address, MISSING),
                address in cleared or (address in accounts and accounts[address] is None),
                locked.get(address) or {},
            )
            for address in accounts.keys() | locked.keys()
        ]
        update = TrieUpdate(db.__getitem__, self.layers.trie_nodes)
        written = write_account_changes(update, self.state_root, changes)
        db.pending.update(update.nodes)
        for code_hash in written.codes:
            db.pending[code_hash] = self._new_codes[code_hash]
        diff = StateLayer(parent=None)
        for change in changes:
            if change.wiped:
                diff.cleared.add(change.address)
            if change.slots:
                diff.storage[change.address] = dict(change.slots)
        diff.accounts.update(written.accounts)
        diff.codes.update(self._new_codes)
        # py-evm's account database is built anew at the new root when next
        # needed: the old one's caches describe the old root.
        self._inner_db = None
        self._inner_source = (db, Hash32(written.root))
        self._root = Hash32(written.root)
        # Over py-evm's AccountDB the root alone keys a layer (no scope).
        self._layer = self.layers.derive(self._layer, written.root, diff)
        self._accounts = {}
        self._reads = {}
        self._locked = {}
        self._locked_cleared = set()
        self._new_codes = {}

    def _write_account(self, address: Address, record: AccountRecord, before: object) -> None:
        """Write ``record`` through py-evm's account database.

        ``before`` is what the layers know of the account at the trie's root
        (:data:`MISSING` if nothing): py-evm's ``account_exists`` walks the trie
        on every call, without caching what it read, so it is asked only when
        the layers do not know.
        """
        nonce, balance, code_hash = record
        inner = self._inner
        exists = inner.account_exists(address) if before is MISSING else before is not None
        if not exists:
            inner.touch_account(address)
        if inner.get_nonce(address) != nonce:
            inner.set_nonce(address, nonce)
        if inner.get_balance(address) != balance:
            inner.set_balance(address, balance)
        if inner.get_code_hash(address) != code_hash:
            if code_hash == EMPTY_SHA3:
                inner.delete_code(address)
            else:
                inner.set_code(address, self._new_codes[code_hash])


_SCOPES: dict[int, tuple[weakref.ref[Any], object]] = {}
"""Per database object (by ``id``, while it lives): the scope of its layers.  Databases
are mappings, which are not hashable, hence the identity."""
_SCOPES_LOCK = threading.Lock()


def _scope_of(db: Any) -> object:
    """The scope of the layers of a tool's own account database built over ``db``.

    A root names the content of py-evm's trie, but a tool's database may
    answer from elsewhere too (one that forks a chain over RPC answers what
    its local trie lacks from the network it forked), so two databases at the
    same root may hold different states.  Their layers are therefore kept per
    database object (py-evm builds every state of a chain over the chain's
    one database, so the states of a chain still share them); a database that
    cannot be weakly referenced shares with nothing.
    """
    key = id(db)
    with _SCOPES_LOCK:
        made = _SCOPES.get(key)
        if made is not None and made[0]() is db:
            return made[1]
        scope = object()
        try:
            # Forgotten when the database goes, before its id can name another.
            ref = weakref.ref(db, partial(_forget_scope, key))
        except TypeError:
            return scope
        _SCOPES[key] = (ref, scope)
        return scope


def _forget_scope(key: int, _: weakref.ref[Any]) -> None:
    _SCOPES.pop(key, None)


def flat_account_db_class(
    inner_class: type[AccountDatabaseAPI], layers: StateLayers | None = None
) -> type[FlatAccountDB]:
    """A :class:`FlatAccountDB` over ``inner_class``, sharing ``layers`` (new ones by default)."""
    return type(
        f"Flat{inner_class.__name__}",
        (FlatAccountDB,),
        {
            "inner_class": inner_class,
            "layers": layers if layers is not None else StateLayers(),
            "writes_tries": inner_class is AccountDB,
            "__slots__": (),
        },
    )
