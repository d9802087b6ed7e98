"""Transaction, receipt and withdrawal roots built in one pass equal py-evm's trie, root and
nodes alike, and a block is validated with them as py-evm validates it."""

from __future__ import annotations

import warnings
from typing import Any
from unittest import mock

import pytest
import rlp
from eth.chains.base import MiningChain
from eth.constants import BLANK_ROOT_HASH
from eth.db.trie import make_trie_root_and_nodes
from eth.vm.base import VM
from eth.vm.forks.cancun import CancunVM
from eth_utils.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from message_harness import addr
from test_flat_state_chain import _chain, signed_call
from trie import HexaryTrie

from evmkiln.context import make_vm_class
from evmkiln.context.block_tries import (
    _NOT_PLAIN,
    _PLAIN_WITH_BLOBS,
    OneShotBlockTries,
    _block_validation,
    transaction_root_and_nodes,
    trie_root_and_nodes,
)


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


# -- the transaction root, and the block validation that reads it -------------


def _mined_chain(vm_class: Any, transactions: int) -> tuple[Any, Any]:
    """A chain over ``test_flat_state_chain``'s genesis, and its block of ``transactions``."""
    chain = _chain(vm_class)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for nonce in range(transactions):
            chain.apply_transaction(signed_call(chain, nonce, addr(0xB0), value=nonce, gas=30_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        block = chain.mine_block(mix_hash=b"\x01" * 32)
    return chain, block


def _validation_error(chain: Any, block: Any) -> str | None:
    """How ``chain``'s VM for ``block`` refuses it (None: it does not)."""
    try:
        chain.get_vm(block.header).validate_block(block)
    except Exception as error:  # a bogus state root fails outside ValidationError too
        return f"{type(error).__name__}: {error}"
    return None


KILN = make_vm_class("ir", interpret_on_compile_error=False, fork="cancun")


@pytest.mark.parametrize("count", [0, 1, 3, 17])
def test_transaction_root_is_pyevms(count: int) -> None:
    chain, block = _mined_chain(KILN, count)
    assert transaction_root_and_nodes(block.transactions) == make_trie_root_and_nodes(
        block.transactions
    )
    assert block.header.transaction_root == make_trie_root_and_nodes(block.transactions)[0]
    # The chain database reads the block's transactions back through the stored nodes.
    assert chain.get_canonical_block_by_number(1).transactions == block.transactions


def test_block_validation_fails_as_pyevms() -> None:
    chain, block = _mined_chain(KILN, 3)
    stock = MiningChain.configure(vm_configuration=((0, CancunVM),), chain_id=1)(chain.chaindb.db)
    header = block.header
    blocks = {
        "mined": block,
        "transaction root": block.copy(header=header.copy(transaction_root=b"\x07" * 32)),
        "transactions": block.copy(transactions=block.transactions[:2]),
        "uncles hash": block.copy(header=header.copy(uncles_hash=b"\x05" * 32)),
        "uncles": block.copy(uncles=(header,)),
        "too many uncles": block.copy(uncles=(header,) * 3),
        "state root": block.copy(header=header.copy(state_root=b"\x06" * 32)),
        "excess blob gas": block.copy(header=header.copy(excess_blob_gas=1)),
        "gas limit": block.copy(header=header.copy(gas_limit=1)),
    }
    for name, candidate in blocks.items():
        ours = _validation_error(chain, candidate)
        assert ours == _validation_error(stock, candidate), name
        assert (ours is None) == (name == "mined"), name
        if name == "transaction root":
            assert ours is not None and ours.startswith("ValidationError: Block's transaction_root")


def test_block_validation_defers_to_a_class_of_its_own() -> None:
    """A fork or a tool's class below the mixin that validates its own way is called."""
    seen: list[Any] = []

    class Watching(CancunVM):
        def validate_block(self, block: Any) -> None:
            seen.append(block)

    class Mixed(OneShotBlockTries, Watching):
        pass

    Mixed.validate_block(object.__new__(Mixed), "block")  # type: ignore[arg-type]
    assert seen == ["block"]
    assert _block_validation(Mixed) == _NOT_PLAIN
    assert _block_validation(KILN) == _PLAIN_WITH_BLOBS
    for fork in ("prague", "osaka"):
        assert _block_validation(make_vm_class("ir", fork=fork)) == _PLAIN_WITH_BLOBS


def test_patched_pyevm_validation_and_bad_blocks_are_as_pyevms() -> None:
    """A tool's patch of py-evm's own validate_block is called; a block of the wrong
    kind is refused with py-evm's error before anything is read from it."""
    chain, block = _mined_chain(KILN, 1)
    vm = chain.get_vm(block.header)
    calls: list[Any] = []
    with mock.patch.object(VM, "validate_block", lambda self, checked: calls.append(checked)):
        vm.validate_block(block)
    assert calls == [block]
    with pytest.raises(ValidationError, match="is not equipped to validate a block of type None"):
        vm.validate_block(None)
