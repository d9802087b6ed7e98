"""What the state holds at a given state root, remembered across state objects.

py-evm builds a new state object, and with it a new account database over
the Merkle-Patricia trie, for every block; eth-tester mines a block per
transaction; a benchmark sets up a fresh state over the same persisted
pre-state root for every run.  Each of them would walk the trie again (in
pure Python: nibble conversion and RLP decoding, tens of microseconds per
cold account or slot) for facts that some earlier state object already
knew.  A state root names the content of py-evm's trie exactly (it is a
hash of it), so anything learnt about the state at a root stays true of that
root forever, whatever database it was read from: that is the cache key.  A
tool's own account database may answer from elsewhere as well (from the
network a chain was forked from), so the states over one are keyed by the
database object as well as the root (see ``flat_state._scope_of``).

A :class:`StateLayer` holds what is known of one root: accounts, storage
slots, and which accounts' storage is known to be empty below it.  When a
flat account database writes its changes to the trie and gets a new root, it
records them as a new layer over the old one (a *diff layer*), so the next
block's state object starts with everything the previous one knew.  A read
walks the layers from the newest down and, past the last, goes to the trie;
what the trie answers is added to the newest layer.

:class:`StateLayers` keeps the layers of one VM class by root, bounded:

* at most ``max_roots`` roots are remembered; the least recently used is
  forgotten first (a long chain of diff layers is flattened into one, so a
  retained layer never keeps an unbounded chain of parents alive);
* a layer caches at most ``max_entries`` entries read from the trie; past
  that it stops caching reads (its own diff entries, which it needs to be
  correct, are always kept).

A state read through the cache instead of the trie does not appear in the
trie's access log, so py-evm's ``MetaWitness`` (returned by ``persist``, used
for witness-based sync) lists only what the trie itself was asked.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from evmkiln.context.trie_update import KnownNodes

AccountRecord = tuple[int, int, bytes]
"""``(nonce, balance, code_hash)``: what the EVM reads of an account.  The
storage root is the trie's business: it is recomputed when changes are
written to the trie."""

MISSING: object = object()
"""A layer does not know the answer: ask the layer below (or the trie)."""

DEFAULT_MAX_ROOTS = 64
DEFAULT_MAX_ENTRIES = 1 << 20
MAX_DEPTH = 16
"""Diff layers stacked over one another before they are flattened into one."""


@dataclass(slots=True, eq=False)
class StateLayer:
    """What is known of the state at one root; ``parent`` holds the rest."""

    parent: StateLayer | None
    accounts: dict[bytes, AccountRecord | None] = field(default_factory=dict)
    """By address; ``None``: no such account."""
    storage: dict[bytes, dict[int, int]] = field(default_factory=dict)
    """Slots by address."""
    cleared: set[bytes] = field(default_factory=set)
    """Accounts whose storage is empty but for the slots in ``storage``:
    the layers below (and the trie) are not asked about them."""
    codes: dict[bytes, bytes] = field(default_factory=dict)
    """Code by code hash."""
    depth: int = 0
    read_entries: int = 0
    """Entries added by reads from the trie (bounded by the owner's cap)."""

    def account(self, address: bytes) -> AccountRecord | object | None:
        """The account at this root, or :data:`MISSING` if no layer knows it."""
        layer: StateLayer | None = self
        while layer is not None:
            record = layer.accounts.get(address, MISSING)
            if record is not MISSING:
                return record
            layer = layer.parent
        return MISSING

    def slot(self, address: bytes, slot: int) -> int | None:
        """The slot's value at this root, or ``None`` if no layer knows it."""
        layer: StateLayer | None = self
        while layer is not None:
            slots = layer.storage.get(address)
            if slots is not None:
                value = slots.get(slot)
                if value is not None:
                    return value
            if address in layer.cleared:
                return 0
            layer = layer.parent
        return None

    def code(self, code_hash: bytes) -> bytes | None:
        layer: StateLayer | None = self
        while layer is not None:
            code = layer.codes.get(code_hash)
            if code is not None:
                return code
            layer = layer.parent
        return None

    def flattened(self) -> StateLayer:
        """One layer with everything this chain of layers knows (the newest wins)."""
        chain: list[StateLayer] = []
        layer: StateLayer | None = self
        while layer is not None:
            chain.append(layer)
            layer = layer.parent
        flat = StateLayer(parent=None)
        for older in reversed(chain):
            # Other threads' states at these roots may be adding what they read (new
            # keys of ``storage``) meanwhile: each table is copied first, by ``copy()``,
            # which allocates before it copies and runs no Python in between.  (Not
            # ``tuple(d.items())``: its pairs are allocated as it iterates, a collection
            # may start there and run finalizers, and another thread then runs.)
            flat.accounts.update(older.accounts)
            flat.codes.update(older.codes)
            for address in older.cleared.copy():
                flat.storage.pop(address, None)
                flat.cleared.add(address)
            for address, slots in older.storage.copy().items():
                target = flat.storage.get(address)
                if target is None:
                    flat.storage[address] = dict(slots)
                else:
                    target.update(slots)
        flat.read_entries = sum(len(s) for s in flat.storage.values()) + len(flat.accounts)
        return flat


class StateLayers:
    """The layers of one VM class's states, by state root (see the module docstring)."""

    __slots__ = ("_layers", "_lock", "max_entries", "max_roots", "trie_nodes")

    def __init__(
        self, *, max_roots: int = DEFAULT_MAX_ROOTS, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        if max_roots < 1:
            raise ValueError("the state cache needs room for at least one root")
        self.max_roots = max_roots
        self.max_entries = max_entries
        self._layers: OrderedDict[Hashable, StateLayer] = OrderedDict()
        self._lock = threading.Lock()
        """The VM class's states may be made and flushed on several threads at once."""
        self.trie_nodes = KnownNodes()
        """Decoded trie nodes the state roots of these states walk through again."""

    def __len__(self) -> int:
        return len(self._layers)

    def at(self, root: Hashable) -> StateLayer:
        """The layer of ``root`` (a state root, or a key holding one): the remembered one,
        or a new empty one (then remembered)."""
        with self._lock:
            layer = self._layers.get(root)
            if layer is None:
                layer = StateLayer(parent=None)
                self._remember(root, layer)
            else:
                self._layers.move_to_end(root)
            return layer

    def derive(self, parent: StateLayer, root: Hashable, diff: StateLayer) -> StateLayer:
        """Remember ``diff`` (changes written over ``parent``) as the layer of ``root``.

        If ``root`` is already known, its layer is kept: both describe the same
        state, and the known one may hold more.
        """
        with self._lock:
            known = self._layers.get(root)
            if known is not None:
                self._layers.move_to_end(root)
                return known
        diff.parent = parent
        diff.depth = parent.depth + 1
        if diff.depth > MAX_DEPTH:
            diff = diff.flattened()  # outside the lock: it walks up to MAX_DEPTH layers
        with self._lock:
            known = self._layers.get(root)
            if known is not None:  # another thread's state got there meanwhile
                self._layers.move_to_end(root)
                return known
            self._remember(root, diff)
            return diff

    def clear(self) -> None:
        with self._lock:
            self._layers.clear()

    def _remember(self, root: Hashable, layer: StateLayer) -> None:
        self._layers[root] = layer
        while len(self._layers) > self.max_roots:
            self._layers.popitem(last=False)
