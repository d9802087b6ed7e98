"""Many changes to a Merkle-Patricia trie in one walk.

py-evm's ``HexaryTrie`` applies a change at a time: each one walks from the
root, decodes every node on its path, and re-encodes and re-hashes all of
them.  A block's state root changes tens of accounts and their storage, whose
paths share the upper levels of the trie, so those levels are decoded and
hashed again for every key.  :class:`TrieUpdate` applies a sorted batch of
changes in one walk instead: each node on the union of the paths is read and
decoded once, each new node encoded and hashed once, and subtrees no change
reaches are kept by reference without being read at all.

The resulting trie is the one the changes made one at a time would give:
nodes are normalised the same way (a branch left with one child and no value
merges with it, an extension joins its only child's path), so the root and
every node stored are ``HexaryTrie``'s.  Only nodes of the new trie are
written; none is deleted (py-evm keeps old roots too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth_typing import Hash32
from trie.exceptions import MissingTrieNode

from evmkiln.context.trie_nodes import (
    Nibbles,
    Node,
    TrieBuilder,
    decode_hex_prefix,
    decode_node,
    hex_prefix,
    nibble_groups,
)

Change = tuple[Nibbles, bytes | None]
"""A key's nibbles and its new value (``None``: delete the key)."""

DEFAULT_KNOWN_NODES = 4096
"""Decoded nodes a :class:`KnownNodes` keeps (about 1.5 KB for a branch)."""


class KnownNodes:
    """Decoded trie nodes by hash, kept across updates (oldest forgotten first).

    A block's state root walks down from the previous block's root, through
    the nodes the previous walk wrote, and decoded each again from its
    encoding, in Python.  A node's hash names its encoding, so the decoded
    node stays right for that hash whatever database it came from.  Nodes
    are never changed once decoded or built (an update copies a branch
    before it changes a slot), so they are shared as they are.
    """

    __slots__ = ("_lock", "_nodes", "limit")

    def __init__(self, limit: int = DEFAULT_KNOWN_NODES) -> None:
        self.limit = limit
        self._nodes: dict[bytes, Node] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, digest: bytes) -> Node | None:
        return self._nodes.get(digest)

    def add(self, digest: bytes, node: Node) -> None:
        with self._lock:
            nodes = self._nodes
            if digest not in nodes:
                while len(nodes) >= self.limit > 0:
                    del nodes[next(iter(nodes))]
                if self.limit > 0:
                    nodes[digest] = node


class _Detached:
    """A node taken apart from its parent during the walk, not yet encoded.

    Splitting an extension whose path the changes leave puts its remainder
    under a new branch; if no change reaches that slot, the remainder is
    encoded when the branch is, and not before (so nothing that ends up
    unused is stored).
    """

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node


class TrieUpdate(TrieBuilder):
    """Apply changes to the trie at a root, reading nodes through ``read`` (hash -> encoding).

    ``nodes`` collects the new nodes by hash, as :class:`TrieBuilder` does;
    ``read_hashes`` the hashes of the existing nodes the walk read.
    ``known``: decoded nodes shared with other updates (:class:`KnownNodes`),
    asked before ``read`` and given every node read or made.
    """

    __slots__ = ("_decoded", "_known", "_read", "_root_hash", "read_hashes")

    def __init__(self, read: Callable[[bytes], bytes], known: KnownNodes | None = None) -> None:
        super().__init__()
        self._read = read
        self._known = known
        self._decoded: dict[bytes, Node] = {}
        self._root_hash: bytes = BLANK_ROOT_HASH
        self.read_hashes: set[bytes] = set()

    def reference(self, node: Node) -> Any:
        made = super().reference(node)
        if self._known is not None and type(made) is bytes:
            self._known.add(made, node)
        return made

    def root(self, node: Node) -> bytes:
        digest = super().root(node)
        if self._known is not None:
            self._known.add(digest, node)
        return digest

    # -- reading -------------------------------------------------------------
    def _node(self, reference: Any, key: Nibbles = ()) -> Node | None:
        """The node a parent names by ``reference`` (``None``: the blank node)."""
        if isinstance(reference, list):
            return reference
        if isinstance(reference, _Detached):
            return reference.node
        if reference == b"":
            return None
        node = self._decoded.get(reference)
        if node is None:
            known = self._known
            node = None if known is None else known.get(reference)
            if node is None:
                try:
                    encoded = self._read(reference)
                except KeyError:
                    raise MissingTrieNode(
                        Hash32(reference), Hash32(self._root_hash), _pack(key), None
                    ) from None
                self.read_hashes.add(reference)
                try:
                    node = decode_node(encoded)
                except ValueError as error:
                    raise ValueError(f"trie node {reference.hex()}: {error}") from None
                if known is not None:
                    known.add(reference, node)
            self._decoded[reference] = node
        return node

    def get(self, root: bytes, key: Nibbles) -> bytes | None:
        """The value of ``key`` in the trie at ``root`` (``None``: absent)."""
        self._root_hash = root
        node = None if root == BLANK_ROOT_HASH else self._node(root, key)
        depth = 0
        while node is not None:
            if len(node) == 17:
                if depth == len(key):
                    return node[16] or None
                node = self._node(node[key[depth]], key)
                depth += 1
                continue
            path, leaf = decode_hex_prefix(node[0])
            if key[depth : depth + len(path)] != path:
                return None
            depth += len(path)
            if leaf:
                return node[1] if depth == len(key) else None
            node = self._node(node[1], key)
        return None

    # -- writing -------------------------------------------------------------
    def update(self, root: bytes, changes: Sequence[Change]) -> bytes:
        """The root of the trie at ``root`` after ``changes`` (sorted by key, distinct keys)."""
        if not changes:
            return root
        self._root_hash = root
        node = None if root == BLANK_ROOT_HASH else self._node(root, changes[0][0])
        new = self._apply(node, changes, 0)
        return BLANK_ROOT_HASH if new is None else self.root(new)

    def _apply(self, node: Node | None, changes: Sequence[Change], depth: int) -> Node | None:
        """``node`` (holding keys that share ``key[:depth]``) with ``changes`` applied."""
        if node is None:
            return self._build(changes, depth)
        if len(node) == 17:
            return self._apply_branch(node, changes, depth)
        path, leaf = decode_hex_prefix(node[0])
        if leaf:
            # One key: rebuild the subtree from it and the changes.
            key = changes[0][0][:depth] + path
            merged = dict(changes)
            merged.setdefault(key, node[1])
            return self._build(sorted(merged.items()), depth)
        end = depth + len(path)
        first, last = changes[0][0], changes[-1][0]
        if first[depth:end] == path and last[depth:end] == path:
            # Every change lies under the extension (the sorted keys between
            # the first and the last share their common prefix).
            child = self._apply(self._node(node[1], first), changes, end)
            return None if child is None else self._prefixed(path, child)
        # Some change leaves the path: the extension becomes a branch.
        branch: list[Any] = [b""] * 17
        branch[path[0]] = (
            node[1] if len(path) == 1 else _Detached([hex_prefix(path[1:], leaf=False), node[1]])
        )
        return self._apply_branch(branch, changes, depth)

    def _apply_branch(self, node: Node, changes: Sequence[Change], depth: int) -> Node | None:
        slots: list[Any] = list(node)
        changed: dict[int, Node | None] = {}
        start = 0
        if len(changes[0][0]) == depth:  # the key that ends at this branch
            slots[16] = changes[0][1] or b""
            start = 1
        for nibble, group in nibble_groups(changes, start, depth):
            child = self._node(slots[nibble], group[0][0])
            changed[nibble] = self._apply(child, group, depth + 1)
        live = [
            i for i in range(16) if (changed[i] is not None if i in changed else slots[i] != b"")
        ]
        value = slots[16]
        if not live:
            return None if value == b"" else [hex_prefix((), leaf=True), value]
        if len(live) == 1 and value == b"":
            # One child and no value: the branch merges into it.
            only = live[0]
            child = changed[only] if only in changed else self._node(slots[only], changes[0][0])
            assert child is not None
            return self._prefixed((only,), child)
        for i in range(16):
            if i in changed:
                new = changed[i]
                slots[i] = b"" if new is None else self.reference(new)
            elif isinstance(slots[i], _Detached):
                slots[i] = self.reference(slots[i].node)
        return slots

    def _prefixed(self, path: Nibbles, child: Node) -> Node:
        """``child`` reached through ``path`` more: paths join, a branch gets an extension."""
        if len(child) == 17:
            return [hex_prefix(path, leaf=False), self.reference(child)]
        child_path, leaf = decode_hex_prefix(child[0])
        return [hex_prefix(path + child_path, leaf=leaf), child[1]]

    def _build(self, changes: Sequence[Change], depth: int) -> Node | None:
        items = [(key, value) for key, value in changes if value is not None]
        return self.build(items, depth) if items else None


def _pack(key: Nibbles) -> bytes:
    """Nibbles back to bytes (an odd last nibble padded), for error messages."""
    padded = key + (0,) * (len(key) % 2)
    return bytes((padded[i] << 4) | padded[i + 1] for i in range(0, len(padded), 2))
