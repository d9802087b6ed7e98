"""A block made from a header gets the transactions the VM set, as decoding would make them."""

from __future__ import annotations

import warnings
from typing import Any

import rlp
from eth._utils.spoof import SpoofAttributes
from hexbytes import HexBytes
from message_harness import SENDER_KEY
from test_block_tries import KILN
from test_flat_state_chain import STORE, _chain, signed_call

from evmkiln.context import block_transactions
from evmkiln.context.block_transactions import (
    REMEMBERED_ROOTS,
    remember_transactions,
    remembered_transactions,
)


def _signed(chain: Any, nonce: int, *, typed: bool) -> Any:
    if typed:
        return signed_call(chain, nonce, STORE)
    unsigned = (
        chain.get_vm()
        .get_transaction_builder()
        .create_unsigned_transaction(
            nonce=nonce, gas_price=1000, gas=100_000, to=STORE, value=0, data=b""
        )
    )
    return unsigned.as_signed_transaction(SENDER_KEY, chain_id=1)


def _decoded(chain: Any, block: Any) -> list[Any]:
    """The block's transactions as py-evm decodes them from the database."""
    builder = type(block).get_transaction_builder()
    return list(chain.chaindb.get_block_transactions(block.header, builder))


def _mine(chain: Any, kinds: list[bool], first_nonce: int = 0) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for offset, typed in enumerate(kinds):
            chain.apply_transaction(_signed(chain, first_nonce + offset, typed=typed))
        return chain.mine_block(mix_hash=b"\x01" * 32)


def test_blocks_read_back_hold_what_decoding_gives() -> None:
    chain = _chain(KILN)
    block = _mine(chain, [True, False, True])
    decoded = _decoded(chain, block)
    builder = type(block).get_transaction_builder()
    assert remembered_transactions(chain.chaindb, block.header.transaction_root, builder)
    for read in (
        chain.get_canonical_block_by_number(1),
        chain.get_block_by_hash(block.hash),
        chain.get_vm(block.header).get_block(),
    ):
        assert read == block and rlp.encode(read) == rlp.encode(block)
        assert [type(t) for t in read.transactions] == [type(t) for t in decoded]
        assert [type(getattr(t, "_inner", None)) for t in read.transactions] == [
            type(getattr(t, "_inner", None)) for t in decoded
        ]
        assert list(read.transactions) == decoded
        assert [t.sender for t in read.transactions] == [t.sender for t in decoded]


def test_transactions_of_other_classes_are_decoded() -> None:
    chain = _chain(KILN)
    block = _mine(chain, [True])
    builder = type(block).get_transaction_builder()
    root = block.header.transaction_root
    (typed,) = block.transactions
    spoof = SpoofAttributes(typed, sender=b"\x11" * 20)
    unknown_type = type(typed)(0x7E, typed._inner)  # a type this fork cannot decode
    for foreign in (spoof, object(), unknown_type):
        remember_transactions(chain.chaindb, root, [foreign])
        assert remembered_transactions(chain.chaindb, root, builder) is None
        read = chain.get_block_by_hash(block.hash)
        assert list(read.transactions) == _decoded(chain, block)


def test_remembered_roots_are_bounded_and_per_database() -> None:
    chain, other = _chain(KILN), _chain(KILN)
    block = _mine(chain, [False])
    builder = type(block).get_transaction_builder()
    root = block.header.transaction_root
    assert remembered_transactions(other.chaindb, root, builder) is None
    for index in range(REMEMBERED_ROOTS):
        remember_transactions(chain.chaindb, index.to_bytes(32, "big"), ())
    assert remembered_transactions(chain.chaindb, root, builder) is None
    assert len(block_transactions._REMEMBERED[chain.chaindb]) == REMEMBERED_ROOTS


def test_values_of_other_classes_are_decoded() -> None:
    """A caller's access list of tuples, or data as a bytes subclass, encode alike but
    are not what decoding makes: such a block is decoded, as py-evm does."""
    chain = _chain(KILN)
    builder = chain.get_vm().get_transaction_builder()
    with_tuples = builder.new_unsigned_access_list_transaction(
        chain_id=1,
        nonce=0,
        gas_price=1000,
        gas=100_000,
        to=STORE,
        value=0,
        data=b"",
        access_list=((STORE, (0,)),),
    ).as_signed_transaction(SENDER_KEY)
    subclassed = builder.create_unsigned_transaction(
        nonce=1, gas_price=1000, gas=100_000, to=STORE, value=0, data=HexBytes("0x1234")
    ).as_signed_transaction(SENDER_KEY, chain_id=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        chain.apply_transaction(with_tuples)
        chain.apply_transaction(subclassed)
        block = chain.mine_block(mix_hash=b"\x01" * 32)
    root = block.header.transaction_root
    assert (
        remembered_transactions(chain.chaindb, root, type(block).get_transaction_builder()) is None
    )
    for read in (block, chain.get_canonical_block_by_number(1)):
        access, legacy = read.transactions
        assert type(access.access_list[0]).__name__ == "AccountAccesses"
        assert access.access_list[0].account == STORE
        assert type(legacy.data) is bytes


def test_a_transactions_values_are_judged_once(monkeypatch: Any) -> None:
    """A block is made from its header several times while it is built: a transaction
    found to hold decoded values is not walked again; one refused is judged each time."""
    chain = _chain(KILN)
    block = _mine(chain, [True, False])
    builder = type(block).get_transaction_builder()
    root = block.header.transaction_root
    judged: list[Any] = []
    original = block_transactions._as_decoding_makes

    def counting(value: Any, sedes: Any) -> bool:
        if isinstance(sedes, type):
            judged.append(value)
        return original(value, sedes)

    monkeypatch.setattr(block_transactions, "_as_decoding_makes", counting)
    first = remembered_transactions(chain.chaindb, root, builder)
    assert first is not None and judged == []  # judged when the block was mined
    subclassed = builder.create_unsigned_transaction(
        nonce=2, gas_price=1000, gas=100_000, to=STORE, value=0, data=HexBytes("0x12")
    ).as_signed_transaction(SENDER_KEY, chain_id=1)
    remember_transactions(chain.chaindb, root, [subclassed])
    for _ in range(2):
        assert remembered_transactions(chain.chaindb, root, builder) is None
    assert judged == [subclassed, subclassed]
