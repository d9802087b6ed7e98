"""A batch of changes applied in one walk gives py-evm's trie: same root, every node readable."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode
from trie.utils.nibbles import bytes_to_nibbles, encode_nibbles

from evmkiln.context.trie_nodes import (
    decode_canonical,
    decode_hex_prefix,
    decode_node,
    encode_node,
    hex_prefix,
    nibbles,
)
from evmkiln.context.trie_update import KnownNodes, TrieUpdate

# Short keys from a small alphabet share long prefixes and end inside one
# another (branch values); values around 32 bytes make nodes both embedded
# and hashed.
KEYS = st.binary(min_size=0, max_size=4).map(lambda b: bytes(x % 4 for x in b))
VALUES = st.one_of(st.binary(min_size=1, max_size=40), st.binary(min_size=60, max_size=120))
SECURE_KEYS = st.binary(min_size=32, max_size=32)


def _hexary(items: dict[bytes, bytes]) -> tuple[dict[bytes, bytes], bytes]:
    db: dict[bytes, bytes] = {}
    trie = HexaryTrie(db, BLANK_ROOT_HASH)
    for key, value in items.items():
        trie[key] = value
    return db, trie.root_hash


def _check(before: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    db, root = _hexary(before)
    reference = HexaryTrie(dict(db), root)
    for key, value in changes.items():
        if value is None:
            del reference[key]
        else:
            reference[key] = value
    update = TrieUpdate(db.__getitem__)
    batch = sorted((nibbles(key), value) for key, value in changes.items())
    new_root = update.update(root, batch)
    assert new_root == reference.root_hash
    # Every node of the new trie is stored: each key reads back from the old
    # nodes plus the new ones.
    after = {key: value for key, value in {**before, **changes}.items() if value is not None}
    stored = {**db, **update.nodes}
    readable = HexaryTrie(stored, new_root)
    reader = TrieUpdate(stored.__getitem__)
    for key, value in after.items():
        assert readable.get(key) == value
        assert reader.get(new_root, nibbles(key)) == value
    for key in changes.keys() - after.keys():
        assert reader.get(new_root, nibbles(key)) is None


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(KEYS, VALUES, max_size=30),
    st.dictionaries(KEYS, st.one_of(st.none(), VALUES), min_size=1, max_size=30),
)
def test_short_keys_equal_hexary_trie(
    before: dict[bytes, bytes], changes: dict[bytes, bytes | None]
) -> None:
    # HexaryTrie cannot delete a key that ends inside an extension's path (it
    # raises), so deletions here are of keys that exist; the secure-key test
    # below deletes absent keys too.
    changes = {k: v for k, v in changes.items() if v is not None or k in before}
    if changes:
        _check(before, changes)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(SECURE_KEYS, VALUES, max_size=60),
    st.data(),
)
def test_secure_keys_equal_hexary_trie(before: dict[bytes, bytes], data: st.DataObject) -> None:
    # Changes to existing keys (updates and deletions) and new keys, as a block makes.
    existing = data.draw(st.lists(st.sampled_from(sorted(before)), unique=True)) if before else []
    fresh = data.draw(st.lists(SECURE_KEYS, max_size=20, unique=True))
    changes: dict[bytes, bytes | None] = {}
    for key in existing:
        changes[key] = data.draw(st.one_of(st.none(), VALUES))
    for key in fresh:
        changes[key] = data.draw(st.one_of(st.none(), VALUES))
    if changes:
        _check(before, changes)


def test_deleting_everything_leaves_the_blank_root() -> None:
    before = {bytes([i]) * 32: b"v" * (i + 1) for i in range(20)}
    db, root = _hexary(before)
    update = TrieUpdate(db.__getitem__)
    assert update.update(root, sorted((nibbles(k), None) for k in before)) == BLANK_ROOT_HASH


def test_untouched_subtrees_are_not_read() -> None:
    before = {bytes([i, j]) + b"\x00" * 30: b"x" * 40 for i in range(16) for j in range(16)}
    db, root = _hexary(before)
    update = TrieUpdate(db.__getitem__)
    update.update(root, [(nibbles(b"\x00\x00" + b"\x00" * 30), b"y" * 40)])
    # The nodes on the one path down (extension, branch, extension, branch,
    # leaf), out of the 256 leaves and 17 branches the trie holds.
    assert 0 < len(update.read_hashes) <= 5
    assert len(db) > 256


def test_missing_node_is_reported() -> None:
    before = {bytes([i]) * 32: b"v" * 40 for i in range(4)}
    db, root = _hexary(before)
    nodes = {root: db[root]}
    update = TrieUpdate(nodes.__getitem__)
    with pytest.raises(MissingTrieNode):
        update.update(root, [(nibbles(b"\x01" * 32), None)])


def test_hex_prefix_round_trips() -> None:
    for path in [(), (1,), (1, 2), (0, 15, 3), tuple(range(16))]:
        for leaf in (True, False):
            assert decode_hex_prefix(hex_prefix(path, leaf)) == (path, leaf)
    with pytest.raises(ValueError):
        decode_hex_prefix(b"\x40")


@given(st.lists(st.integers(0, 15), max_size=64), st.booleans())
def test_hex_prefix_is_the_tries(path: list[int], leaf: bool) -> None:
    expected = encode_nibbles(tuple(path) + ((16,) if leaf else ()))
    assert hex_prefix(tuple(path), leaf) == expected


NESTED = st.recursive(
    st.binary(max_size=70),
    lambda children: st.lists(children, max_size=17),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(NESTED)
def test_node_encoding_is_rlp(item: Any) -> None:
    assert encode_node(item) == rlp.encode(item)


def test_node_encoding_is_rlp_at_every_prefix_boundary() -> None:
    """Lists of byte strings take the prefix table: every single byte, and the sizes
    where a prefix grows a byte (56) or leaves the table (256)."""
    singles = [bytes((byte,)) for byte in range(256)]
    sized = [(bytes(range(256)) * 2)[:size] for size in range(300)]
    for item in [singles, sized, [b"", *singles[120:140]], [bytes(55), bytes(56), b"\x7f"]]:
        assert encode_node(item) == rlp.encode(item)
        assert encode_node([item, b"\x80"]) == rlp.encode([item, b"\x80"])
    for size in (0, 1, 55, 56, 57, 255, 256, 257, 1024):
        for item in ([bytes(size)], [b"\x01", bytes(size), b"\xff"], [[bytes(size)], b""]):
            assert encode_node(item) == rlp.encode(item), size


@settings(max_examples=300, deadline=None)
@given(NESTED)
def test_canonical_decoding_is_rlps(item: Any) -> None:
    assert decode_canonical(rlp.encode(item)) == rlp.decode(rlp.encode(item))


@pytest.mark.parametrize(
    "encoded",
    [
        b"\x81\x05",  # one byte below 0x80, prefixed
        b"\xb8\x01a",  # a long length for a short string
        b"\xf8\x01\x05",  # a long length for a short list
        b"\x83ab",  # truncated
        b"\x05\x05",  # trailing bytes
        b"\xc2\x83a",  # an item overrunning its list
        b"",
    ],
)
def test_canonical_decoding_refuses_what_rlp_encode_never_makes(encoded: bytes) -> None:
    with pytest.raises(ValueError):
        decode_canonical(encoded)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.lists(st.binary(max_size=70), min_size=2, max_size=2),
        st.lists(st.binary(max_size=40), min_size=17, max_size=17),
    )
)
def test_node_decoding_inverts_encoding(node: list[bytes]) -> None:
    assert decode_node(encode_node(node)) == node == rlp.decode(rlp.encode(node))


@pytest.mark.parametrize(
    "encoded",
    [
        b"",
        b"\x80",
        b"\xc2\x80",
        b"\xc3\x80\x80",
        b"\xc3\x80\x80\x80\x80",
        b"\xf8\xff\x80",
        b"\xc2\x85\x00",
    ],
)
def test_corrupt_nodes_are_refused(encoded: bytes) -> None:
    with pytest.raises(ValueError):
        decode_node(encoded)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_nibbles_are_the_tries_own(key: bytes) -> None:
    assert nibbles(key) == bytes_to_nibbles(key)
    assert all(type(nibble) is int for nibble in nibbles(key))


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(SECURE_KEYS, VALUES, max_size=40),
    st.lists(st.dictionaries(SECURE_KEYS, st.one_of(st.none(), VALUES), max_size=8), max_size=4),
)
def test_known_nodes_give_the_same_tries_and_spare_the_reads(
    before: dict[bytes, bytes], blocks: list[dict[bytes, bytes | None]]
) -> None:
    """Blocks of changes, each update starting at the last one's root: with decoded
    nodes shared, the same roots and new nodes; a block's keys then read back
    through the nodes its update read or made, without the database."""
    db, root = _hexary(before)
    stored = dict(db)
    known = KnownNodes()
    for changes in blocks:
        batch = sorted((nibbles(key), value) for key, value in changes.items())
        plain = TrieUpdate(stored.__getitem__)
        shared = TrieUpdate(stored.__getitem__, known)
        new_root = plain.update(root, batch)
        assert shared.update(root, batch) == new_root and shared.nodes == plain.nodes
        stored.update(plain.nodes)
        root = new_root
        reads: set[bytes] = set()
        reader = TrieUpdate(functools.partial(_read_noting, stored, reads=reads), known)
        for key, value in changes.items():
            assert reader.get(root, nibbles(key)) == value
        assert not reads


def _read_noting(stored: dict[bytes, bytes], digest: bytes, *, reads: set[bytes]) -> bytes:
    reads.add(digest)
    return stored[digest]


def test_known_nodes_are_bounded() -> None:
    known = KnownNodes(limit=3)
    for index in range(5):
        known.add(bytes([index]) * 32, [b"", b""])
    assert len(known) == 3
    assert known.get(b"\x00" * 32) is None and known.get(b"\x04" * 32) == [b"", b""]
    off = KnownNodes(limit=0)
    off.add(b"\x01" * 32, [b"", b""])
    assert len(off) == 0
