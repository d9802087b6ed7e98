"""Merkle-Patricia trie nodes: their nibble paths, their encoding, building a trie from sorted keys.

A node is kept as its RLP structure, as ``rlp.decode`` returns it: a leaf or
an extension ``[hex-prefixed path, x]``, a branch of 17 items (16 children
and a value).  A parent names a child by the child itself when its encoding
is under 32 bytes and by the keccak of the encoding otherwise; only the
latter are stored in the database, plus the root whatever its size.  These
are the rules py-evm's ``HexaryTrie`` follows, so the roots and the stored
nodes of the tries built here are the ones it builds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from typing import Any, TypeVar

from evmkiln.builtins.keccak_backend import keccak256

Node = list[Any]
"""A trie node as its RLP structure: a leaf or extension ``[path, x]``, a branch of 17."""

Nibbles = tuple[int, ...]


def encode_node(item: Any) -> bytes:
    """The RLP encoding of a node (nested lists of byte strings), as ``rlp.encode`` gives it.

    A trie update encodes every node it makes; pyrlp's generic encoder
    (sedes inference, validation) was most of that cost.
    """
    if isinstance(item, bytes):
        size = len(item)
        if size == 1 and item[0] < 0x80:
            return item
        return _length_prefix(size, 0x80) + item
    if all(map(isinstance, item, _BYTES)):
        sizes = list(map(len, item))
        if sizes and max(sizes) < len(_PREFIXES):
            # A list of byte strings (a branch, a leaf, an account): each one's prefix
            # looked up by its size, or by itself for a single byte, and all joined in C.
            prefixes = map(_SINGLE_BYTES.get, item, map(_PREFIXES.__getitem__, sizes))
            payload = b"".join(chain.from_iterable(zip(prefixes, item, strict=True)))
            return _length_prefix(len(payload), 0xC0) + payload
    parts = []
    for child in item:  # a list's byte strings encoded in place: most items are
        if isinstance(child, bytes):
            size = len(child)
            if size == 1 and child[0] < 0x80:
                parts.append(child)
            elif size < 56:
                parts.append(bytes((0x80 + size,)) + child)
            else:
                parts.append(_length_prefix(size, 0x80) + child)
        else:
            parts.append(encode_node(child))
    payload = b"".join(parts)
    return _length_prefix(len(payload), 0xC0) + payload


_BYTES = repeat(bytes)
_PREFIXES = [bytes((0x80 + size,)) for size in range(56)] + [
    bytes((0xB8, size)) for size in range(56, 256)
]
"""The prefix of a byte string of each size under 256 (but a single byte's)."""
_SINGLE_BYTES = {bytes((byte,)): b"" if byte < 0x80 else b"\x81" for byte in range(256)}
"""The prefix of each single byte: none below 0x80 (the byte is its own encoding)."""


def _length_prefix(size: int, offset: int) -> bytes:
    if size < 56:
        return bytes((offset + size,))
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(length),)) + length


def decode_node(encoded: bytes) -> Node:
    """A node from its RLP encoding; :class:`ValueError` if it is not one."""
    try:
        node, end = _decode_item(encoded, 0)
    except IndexError:
        raise ValueError("truncated RLP in a trie node") from None
    if end != len(encoded) or not isinstance(node, list) or len(node) not in (2, 17):
        raise ValueError("not a trie node: a leaf, an extension or a branch")
    return node


def decode_canonical(encoded: bytes) -> Any:
    """``rlp.decode(encoded)`` for an encoding ``rlp.encode`` gives; :class:`ValueError` else.

    Nested lists of byte strings.  An encoding that decodes but is not the
    one ``rlp.encode`` makes of the result (a long form where the short one
    is due, a single byte below 0x80 with a prefix) is refused, so a caller
    can leave those to pyrlp and its verdict.
    """
    try:
        item, end = _decode_item(encoded, 0)
    except IndexError:
        raise ValueError("truncated RLP") from None
    if end != len(encoded) or encode_node(item) != encoded:
        raise ValueError("not a canonical RLP encoding")
    return item


def _decode_item(data: bytes, position: int) -> tuple[Any, int]:
    first = data[position]
    if first < 0x80:
        return data[position : position + 1], position + 1
    if first < 0xB8:
        start, size = position + 1, first - 0x80
    elif first < 0xC0:
        width = first - 0xB7
        start = position + 1 + width
        size = int.from_bytes(data[position + 1 : start], "big")
    else:
        if first < 0xF8:
            start, size = position + 1, first - 0xC0
        else:
            width = first - 0xF7
            start = position + 1 + width
            size = int.from_bytes(data[position + 1 : start], "big")
        end = start + size
        if end > len(data):
            raise IndexError
        items: list[Any] = []
        while start < end:
            item, start = _decode_item(data, start)
            items.append(item)
        if start != end:
            raise ValueError("an RLP list's items overrun it")
        return items, end
    end = start + size
    if end > len(data):
        raise IndexError
    return data[start:end], end


_HEX_DIGIT_VALUES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))


def nibbles(key: bytes) -> Nibbles:
    """The 4-bit digits of ``key``, high half first.

    Read from the key's hex digits in C (a state root asks for one per
    account and slot written): a third of a loop over the bytes' cost.
    """
    return tuple(key.hex().encode("ascii").translate(_HEX_DIGIT_VALUES))


_NIBBLE_HEX_DIGITS = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")


def hex_prefix(path: Sequence[int], leaf: bool) -> bytes:
    """The compact encoding of ``path`` in a leaf (``leaf``) or an extension.

    The nibbles are packed through their hex digits in C, as :func:`nibbles`
    unpacks them: a leaf's path is up to 64 of them.
    """
    flag = 0x20 if leaf else 0
    if len(path) % 2:
        head = bytes((flag | 0x10 | path[0],))
        rest = bytes(path[1:])
    else:
        head = bytes((flag,))
        rest = bytes(path)
    return head + bytes.fromhex(rest.translate(_NIBBLE_HEX_DIGITS).decode("ascii"))


def decode_hex_prefix(encoded: bytes) -> tuple[Nibbles, bool]:
    """The path of a compact-encoded leaf or extension, and whether it is a leaf."""
    if not encoded:
        raise ValueError("a leaf or extension path is never empty")
    flags = encoded[0] >> 4
    if flags > 3:
        raise ValueError(f"invalid hex-prefix flags {flags}")
    path = nibbles(encoded[1:])
    if flags & 1:
        path = (encoded[0] & 0x0F, *path)
    return path, bool(flags & 2)


Keyed = TypeVar("Keyed", bound=tuple[Any, ...])


def nibble_groups(
    items: Sequence[Keyed], start: int, depth: int
) -> Iterator[tuple[int, Sequence[Keyed]]]:
    """``items[start:]`` (sorted by their first field, a key of nibbles) in runs that share
    the nibble at ``depth``: the children of a branch at that depth."""
    while start < len(items):
        nibble = items[start][0][depth]
        end = start + 1
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        yield nibble, items[start:end]
        start = end


class TrieBuilder:
    """Encodes nodes and keeps every one a lookup reads from the database (``nodes``)."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def reference(self, node: Node) -> Any:
        """How a parent names ``node``: the node itself under 32 bytes, else its hash."""
        encoded = encode_node(node)
        if len(encoded) < 32:
            return node
        digest = bytes(keccak256(encoded))
        self.nodes[digest] = encoded
        return digest

    def root(self, node: Node) -> bytes:
        """The hash of a trie whose root node is ``node`` (stored whatever its size)."""
        encoded = encode_node(node)
        digest = bytes(keccak256(encoded))
        self.nodes[digest] = encoded
        return digest

    def build(self, items: Sequence[tuple[Nibbles, bytes]], depth: int) -> Node:
        """The node for ``items`` (sorted keys, distinct, all sharing ``key[:depth]``)."""
        first_key, first_value = items[0]
        if len(items) == 1:
            return [hex_prefix(first_key[depth:], leaf=True), first_value]
        last_key = items[-1][0]
        # The sorted keys' common prefix is the first and last keys' common prefix.
        shared = depth
        limit = min(len(first_key), len(last_key))
        while shared < limit and first_key[shared] == last_key[shared]:
            shared += 1
        if shared > depth:
            child = self.build(items, shared)
            return [hex_prefix(first_key[depth:shared], leaf=False), self.reference(child)]
        branch: list[Any] = [b""] * 17
        start = 0
        if len(first_key) == depth:  # a key that ends here: the branch's value
            branch[16] = first_value
            start = 1
        for nibble, group in nibble_groups(items, start, depth):
            branch[nibble] = self.reference(self.build(group, depth + 1))
        return branch
