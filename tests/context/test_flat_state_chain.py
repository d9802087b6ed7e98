"""Blocks of transactions on one chain: the flat state against stock py-evm, block by block.

py-evm builds a new state object (and account database) for every block, so
this is where the flat state's layers are carried from block to block (a
block's state starts at the root the previous block's state persisted).
Hypothesis picks the transactions; after every block the header's state root,
and every receipt, must be stock py-evm's.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from eth import constants
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from message_harness import SENDER, SENDER_KEY, addr
from test_vm_against_pyevm import (
    CLEARER,
    DEPLOY_SMALL,
    DEPLOY_SUICIDAL,
    REVERTER,
    STORE_AND_LOG,
    asm,
    call_then_return,
    create_in_memory,
    push20,
)

from evmkiln.context import make_vm_class

STORE = addr(0xA1)
CREATOR = addr(0xA2)
CREATOR2 = addr(0xA3)
CALLS_STORE = addr(0xA4)
CALLS_REVERTER = addr(0xA5)
REVERTING = addr(0xA6)
DESTRUCTS = addr(0xA7)
TRANSIENT = addr(0xA8)
EMPTY = addr(0xA9)
# TSTORE(0, CALLVALUE + 1); SSTORE(1, TLOAD(0)); STOP
TRANSIENT_CODE = asm("34600101 5f5d 5f5c 600155 00")

GENESIS_STATE: dict[bytes, dict[str, Any]] = {
    SENDER: {"balance": 10**21, "nonce": 0, "code": b"", "storage": {}},
    STORE: {"balance": 0, "nonce": 1, "code": STORE_AND_LOG + CLEARER, "storage": {0: 5}},
    CREATOR: {"balance": 9, "nonce": 1, "code": create_in_memory(DEPLOY_SUICIDAL), "storage": {}},
    CREATOR2: {
        "balance": 0,
        "nonce": 1,
        "code": create_in_memory(DEPLOY_SMALL, salted=True),
        "storage": {},
    },
    CALLS_STORE: {"balance": 50, "nonce": 1, "code": call_then_return(STORE, 3), "storage": {}},
    CALLS_REVERTER: {"balance": 0, "nonce": 1, "code": call_then_return(REVERTING), "storage": {}},
    REVERTING: {"balance": 0, "nonce": 1, "code": REVERTER, "storage": {1: 1}},
    DESTRUCTS: {"balance": 7, "nonce": 1, "code": asm(push20(EMPTY) + "ff"), "storage": {3: 4}},
    TRANSIENT: {"balance": 0, "nonce": 1, "code": TRANSIENT_CODE, "storage": {}},
}
TARGETS = [*(a for a in GENESIS_STATE if a != SENDER), EMPTY, addr(0xB0)]

GENESIS_PARAMS: dict[str, Any] = {
    "coinbase": addr(0xC0),
    "difficulty": 0,
    "gas_limit": 30_000_000,
    "extra_data": b"",
    "nonce": b"\x00" * 8,
    "timestamp": 1_700_000_000,
    "base_fee_per_gas": 7,
    "withdrawals_root": constants.BLANK_ROOT_HASH,
    "blob_gas_used": 0,
    "excess_blob_gas": 0,
    "parent_beacon_block_root": constants.ZERO_HASH32,
}

transaction = st.tuples(
    st.sampled_from(TARGETS),
    st.sampled_from([0, 1, 10**9]),
    st.sampled_from([30_000, 100_000, 400_000]),
)


def _chain(vm_class: Any) -> Any:
    chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return chain_class.from_genesis(AtomicDB(), GENESIS_PARAMS, GENESIS_STATE)


def signed_call(chain: Any, nonce: int, to: bytes, value: int = 0, gas: int = 100_000) -> Any:
    """An EIP-1559 call from ``SENDER``, signed with the builder of ``chain``'s VM."""
    builder = chain.get_vm().get_transaction_builder()
    unsigned = builder.new_unsigned_dynamic_fee_transaction(
        chain_id=1,
        nonce=nonce,
        max_priority_fee_per_gas=1,
        max_fee_per_gas=1000,
        gas=gas,
        to=to,
        value=value,
        data=b"",
        access_list=(),
    )
    return unsigned.as_signed_transaction(SENDER_KEY)


def _run(vm_class: Any, blocks: list[list[tuple[bytes, int, int]]]) -> list[Any]:
    chain = _chain(vm_class)
    seen: list[Any] = []
    nonce = 0
    for block in blocks:
        for to, value, gas in block:
            transaction = signed_call(chain, nonce, to, value, gas)
            nonce += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                _, receipt, computation = chain.apply_transaction(transaction)
            seen.append((receipt.gas_used, receipt.logs, computation.is_success))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            mined = chain.mine_block(mix_hash=b"\x01" * 32)
        header = mined.header
        # The roots in the header, and the receipts read back through the persisted trie.
        receipts = chain.chaindb.get_receipts(header, chain.get_vm().get_receipt_builder())
        stored = [(r.state_root, r.gas_used, r.logs) for r in receipts]
        seen.append((header.state_root, header.receipt_root, header.transaction_root, stored))
    return seen


KILN = make_vm_class("ir", interpret_on_compile_error=False, fork="cancun")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(transaction, max_size=3), min_size=1, max_size=4))
def test_blocks_match_pyevm_after_every_block(blocks: list[list[tuple[bytes, int, int]]]) -> None:
    assert _run(KILN, blocks) == _run(CancunVM, blocks)


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_every_contract_in_successive_blocks_matches_pyevm(backend: str) -> None:
    blocks = [[(to, 1, 400_000)] for to in TARGETS] + [[(to, 0, 400_000) for to in TARGETS[:3]]]
    vm_class = make_vm_class(backend, interpret_on_compile_error=False, fork="cancun")
    assert _run(vm_class, blocks) == _run(CancunVM, blocks)
    # The later blocks' states started from what the earlier ones wrote.
    assert vm_class.state_layers is not None and len(vm_class.state_layers) > len(blocks)
