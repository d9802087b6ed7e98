"""Receipt and withdrawal roots built in one pass equal py-evm's trie, root and nodes alike."""

from __future__ import annotations

import rlp
from eth.constants import BLANK_ROOT_HASH
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from evmkiln.context.block_tries import trie_root_and_nodes


def _hexary(items: list[bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """What py-evm builds: each item inserted under rlp(index) into a HexaryTrie."""
    nodes: dict[bytes, bytes] = {}
    trie = HexaryTrie(nodes, BLANK_ROOT_HASH)
    with trie.squash_changes() as batch:
        for index, item in enumerate(items):
            batch[rlp.encode(index, sedes=rlp.sedes.big_endian_int)] = item
    return trie.root_hash, nodes


# Items of sizes around the 32-byte line between embedded and hashed nodes.
ITEMS = st.lists(
    st.one_of(st.binary(min_size=1, max_size=40), st.binary(min_size=100, max_size=300)),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(ITEMS)
def test_root_and_nodes_equal_the_hexary_tries(items: list[bytes]) -> None:
    root, nodes = trie_root_and_nodes(items)
    assert (root, nodes) == _hexary(items)
    readable = HexaryTrie(nodes, root)
    for index, item in enumerate(items):
        assert readable[rlp.encode(index, sedes=rlp.sedes.big_endian_int)] == item


def test_counts_across_key_lengths_equal_the_hexary_tries() -> None:
    # rlp(index) is one byte below 128, two to 255, three beyond: every shape of branch.
    for count in (0, 1, 2, 16, 17, 127, 128, 129, 255, 256, 257, 1000):
        items = [bytes([i % 251]) * (1 + i % 45) for i in range(count)]
        assert trie_root_and_nodes(items) == _hexary(items)
