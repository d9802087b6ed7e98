"""A new block's header made in one pass is the header py-evm's chain of makers makes."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth.vm.forks.shanghai.blocks import ShanghaiBlockHeader
from eth_utils import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import make_vm_class
from evmkiln.context.block_copies import sharing_header_class
from evmkiln.context.new_headers import header_from_parent, maker_of
from evmkiln.forks import fork_spec

FORKS = ("cancun", "prague", "osaka")
FUTURE = 4_000_000_000
"""A parent timestamp past the clock: a default timestamp is then the parent's plus one."""

words = st.integers(min_value=0, max_value=2**64)
hashes = st.binary(min_size=32, max_size=32)


def _parent(header_class: type[Any], draw: Any) -> Any:
    fields: dict[str, Any] = {
        "difficulty": 0,
        "block_number": draw(st.integers(min_value=1, max_value=10**6)),
        "gas_limit": draw(st.integers(min_value=5_000, max_value=60_000_000)),
        "timestamp": draw(st.integers(min_value=FUTURE, max_value=FUTURE + 10**6)),
        "state_root": draw(hashes),
        "base_fee_per_gas": draw(st.integers(min_value=0, max_value=10**12)),
        "extra_data": draw(st.binary(max_size=32)),
    }
    fields["gas_used"] = draw(st.integers(min_value=0, max_value=fields["gas_limit"]))
    names = header_class._meta.field_names
    if "excess_blob_gas" in names:
        fields["excess_blob_gas"] = draw(st.integers(min_value=0, max_value=2**24))
        fields["blob_gas_used"] = draw(st.integers(min_value=0, max_value=2**21))
    return header_class(**fields)


@st.composite
def _cases(draw: Any) -> tuple[str, Any, dict[str, Any]]:
    fork = draw(st.sampled_from(FORKS))
    header_class = dict(fork_spec(fork).vm_class.get_block_class()._meta.fields)["header"]
    parent = _parent(header_class, draw)
    optional: dict[str, Any] = {
        "gas_limit": st.integers(min_value=5_000, max_value=60_000_000),
        "timestamp": st.integers(min_value=0, max_value=2**40),
        "coinbase": st.binary(min_size=20, max_size=20),
        "extra_data": st.binary(max_size=32),
        "transaction_root": hashes,
        "state_root": hashes,
        "mix_hash": hashes,
        "receipt_root": hashes,
        "withdrawals_root": hashes,
        "excess_blob_gas": words,
        "blob_gas_used": words,
        "parent_beacon_block_root": hashes,
    }
    if fork != "cancun":
        optional["requests_hash"] = hashes
    chosen = draw(st.sets(st.sampled_from(sorted(optional))))
    return fork, parent, {name: draw(optional[name]) for name in sorted(chosen)}


def _stock(fork: str, parent: Any, params: dict[str, Any]) -> Any:
    return fork_spec(fork).vm_class.create_header_from_parent(parent, **params)


_CACHES = {"_cached_rlp", "_hash_cache", "_hash"}
"""What encoding and hashing leave on a header."""


def _attributes(header: Any) -> list[tuple[str, type, Any]]:
    """The header's attributes in order, with their classes (its caches aside)."""
    return [(name, type(v), v) for name, v in vars(header).items() if name not in _CACHES]


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_headers_are_the_chain_of_makers_headers(case: tuple[str, Any, dict[str, Any]]) -> None:
    fork, parent, params = case
    stock = _stock(fork, parent, dict(params))
    ours = make_vm_class("ir", fork=fork).create_header_from_parent(parent, **params)
    assert isinstance(ours, type(stock)) and type(ours) is not type(stock)
    assert _attributes(ours) == _attributes(stock)
    assert rlp.encode(ours) == rlp.encode(stock) and ours.hash == stock.hash
    # Made here, not by the chain (which the VM's mixin would otherwise call).
    maker = maker_of(fork_spec(fork).vm_class.create_header_from_parent)
    assert maker is not None
    made = header_from_parent(maker, sharing_header_class(maker.header_class), parent, params)
    assert made is not None and _attributes(made) == _attributes(stock)


@pytest.mark.parametrize("fork", FORKS)
def test_what_the_chain_validates_or_refuses_is_left_to_it(fork: str) -> None:
    header_class = dict(fork_spec(fork).vm_class.get_block_class()._meta.fields)["header"]
    parent = header_class(
        difficulty=0, block_number=1, gas_limit=30_000_000, timestamp=FUTURE, base_fee_per_gas=7
    )
    vm_class = make_vm_class("ir", fork=fork)
    maker = maker_of(fork_spec(fork).vm_class.create_header_from_parent)
    assert maker is not None
    leave = [
        {"difficulty": 0},
        {"nonce": bytes(8)},
        {"base_fee_per_gas": 7},
        {"mix_hash": None, "coinbase": None},
    ]
    for params in leave:
        assert header_from_parent(maker, header_class, parent, params) is None
        ours = vm_class.create_header_from_parent(parent, **params)
        assert _attributes(ours) == _attributes(_stock(fork, parent, params))
    refused: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"difficulty": 1}, ValidationError),
        ({"nonce": b"\x01" * 8}, ValidationError),
        ({"base_fee_per_gas": 8}, ValidationError),
        ({"gas": 1}, TypeError),
        ({"timestamp": None}, ValueError),
    ]
    if fork == "cancun":
        refused.append(({"requests_hash": bytes(32)}, TypeError))
    for params, error in refused:
        with pytest.raises(error) as theirs:
            _stock(fork, parent, dict(params))
        with pytest.raises(error) as mine:
            vm_class.create_header_from_parent(parent, **params)
        assert str(mine.value) == str(theirs.value)


def test_a_forks_first_block_and_the_genesis_are_the_chains() -> None:
    shanghai_parent = ShanghaiBlockHeader(
        difficulty=0, block_number=1, gas_limit=30_000_000, timestamp=FUTURE
    )
    maker = maker_of(fork_spec("cancun").vm_class.create_header_from_parent)
    assert maker is not None
    assert header_from_parent(maker, CancunBlockHeader, shanghai_parent, {}) is None
    ours = make_vm_class("ir", fork="cancun").create_header_from_parent(shanghai_parent)
    assert _attributes(ours) == _attributes(_stock("cancun", shanghai_parent, {}))
    genesis = {"difficulty": 0, "gas_limit": 30_000_000, "timestamp": 1}
    ours = make_vm_class("ir", fork="prague").create_header_from_parent(None, **genesis)
    assert _attributes(ours) == _attributes(_stock("prague", None, genesis))
    assert type(ours).__mro__[1:].count(PragueBlockHeader) == 1


def test_only_the_makers_themselves_are_known() -> None:
    from functools import partial

    from eth.vm.forks.prague.headers import create_prague_header_from_parent

    assert maker_of(create_prague_header_from_parent) is not None
    assert maker_of(create_prague_header_from_parent(None)) is None  # a parent bound
    assert maker_of(partial(create_prague_header_from_parent.func, None)) is None
    assert maker_of(lambda parent, **params: None) is None


@pytest.mark.parametrize("fork", FORKS)
def test_a_parent_that_only_looks_like_a_header_is_the_chains(fork: str) -> None:
    """py-evm's makers only read the parent's attributes."""
    import types

    header_class = dict(fork_spec(fork).vm_class.get_block_class()._meta.fields)["header"]
    real = header_class(
        difficulty=0, block_number=1, gas_limit=30_000_000, timestamp=FUTURE, base_fee_per_gas=7
    )
    parent = types.SimpleNamespace(**real.as_dict(), hash=real.hash)
    ours = make_vm_class("ir", fork=fork).create_header_from_parent(parent)
    assert _attributes(ours) == _attributes(_stock(fork, parent, {}))


@pytest.mark.parametrize("fork", FORKS)
@pytest.mark.parametrize("odd", [{"excess_blob_gas": None}, {"blob_gas_used": "7"}])
def test_every_forks_excess_blob_gas_is_computed_as_the_chain_does(
    fork: str, odd: dict[str, Any]
) -> None:
    """Each maker of the chain computes its fork's excess blob gas from the parent, and
    an odd parent (a tool's header, hashed its own way) fails in the first of them."""
    header_class = dict(fork_spec(fork).vm_class.get_block_class()._meta.fields)["header"]

    class ToolsHeader(header_class):  # type: ignore[misc, valid-type]
        @property
        def hash(self) -> bytes:
            return b"\x11" * 32

    fields = {"difficulty": 0, "block_number": 1, "gas_limit": 30_000_000, "timestamp": FUTURE}
    parent = ToolsHeader(**fields, base_fee_per_gas=7, **odd)
    with pytest.raises(TypeError) as theirs:
        _stock(fork, parent, {})
    with pytest.raises(TypeError) as mine:
        make_vm_class("ir", fork=fork).create_header_from_parent(parent)
    assert str(mine.value) == str(theirs.value)
