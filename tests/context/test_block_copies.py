"""Blocks and new headers of evmkiln's VM classes copy as pyrlp copies, sharing what they
do not change; the blocks mined are py-evm's."""

from __future__ import annotations

import copy
import pickle
import warnings
from typing import Any

import pytest
import rlp
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from test_block_tries import KILN, _mined_chain
from test_flat_state_chain import STORE, _chain, signed_call

from evmkiln.context.block_copies import sharing_header


def _pyrlp_copy(block: Any, *args: Any, **kwargs: Any) -> Any:
    """What py-evm's own block class gives: pyrlp's deep-copying ``copy``."""
    base = next(
        klass
        for klass in type(block).__mro__
        if "copy" in vars(klass) and klass.__module__.startswith("rlp")
    )
    return base.copy(block, *args, **kwargs)


def _attributes_of(block: Any) -> list[tuple[str, type]]:
    return [(name, type(value)) for name, value in vars(block).items()]


def _encoding(block: Any) -> bytes | type[BaseException]:
    """The block's encoding, or the class of the error encoding it raised (a Cancun
    block's transactions under a later fork's block class)."""
    try:
        return rlp.encode(block)
    except Exception as error:
        return type(error)


def _pyevm_class(block: Any) -> Any:
    """The py-evm block class under evmkiln's mixins."""
    return next(k for k in type(block).__mro__ if k.__module__.startswith("eth."))


@pytest.fixture(scope="module")
def block() -> Any:
    return _mined_chain(KILN, 3)[1]


def test_copies_equal_pyrlps_and_share_the_unchanged_fields(block: Any) -> None:
    header = block.header.copy(gas_used=1)
    for overrides in ({}, {"header": header}, {"transactions": block.transactions[:1]}):
        ours, theirs = block.copy(**overrides), _pyrlp_copy(block, **overrides)
        assert type(ours) is type(theirs) is type(block)
        assert ours == theirs and rlp.encode(ours) == rlp.encode(theirs)
        for field in ("header", "transactions", "uncles", "withdrawals"):
            expected = overrides.get(field, getattr(block, field))
            assert getattr(ours, field) is expected, field
            assert getattr(theirs, field) == expected, field
        # What py-evm's constructor keeps besides the fields: the same attributes,
        # the header's bloom as a filter of its own, an empty list of requests.
        caches = {"_cached_rlp", "_hash_cache"}
        assert set(vars(ours)) - caches == set(vars(theirs)) - caches
        assert int(ours.bloom_filter) == int(theirs.bloom_filter) == ours.header.bloom
        assert ours.bloom_filter is not block.bloom_filter
        assert ours.block_requests == theirs.block_requests == []
        assert ours.block_requests is not block.block_requests
    # pyrlp's copy does copy: the shared header is a new object there.
    assert _pyrlp_copy(block).header is not block.header
    # A None is the constructor's to fill in.
    assert block.copy(uncles=None) == _pyrlp_copy(block, uncles=None)


def test_a_block_class_with_its_own_constructor_is_constructed(block: Any) -> None:
    made: list[Any] = []

    class OwnConstructor(type(block)):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    own = OwnConstructor(block.header, block.transactions, block.uncles, block.withdrawals)
    made.clear()
    copied = own.copy(header=block.header.copy(gas_used=3))
    assert type(copied) is OwnConstructor and len(made) == 1


def test_positional_and_unknown_fields_behave_as_pyrlps(block: Any) -> None:
    header = block.header.copy(gas_used=2)
    assert block.copy(header) == _pyrlp_copy(block, header)
    with pytest.raises(TypeError) as ours:
        block.copy(gas=1)
    with pytest.raises(TypeError) as theirs:
        _pyrlp_copy(block, gas=1)
    assert str(ours.value) == str(theirs.value)


def _mined_with(vm_class: Any, blocks: int) -> list[bytes]:
    """The encoded headers of ``blocks`` blocks of two transactions each, at fixed times."""
    chain = _chain(vm_class)
    nonce, mined = 0, []
    for number in range(1, blocks + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for _ in range(2):
                chain.apply_transaction(signed_call(chain, nonce, STORE, value=nonce))
                nonce += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            block = chain.mine_block(mix_hash=b"\x01" * 32, timestamp=1_800_000_000 + number)
        mined.append(rlp.encode(block))
        assert chain.get_canonical_block_by_number(number) == block
    return mined


def test_mined_blocks_are_pyevms() -> None:
    assert _mined_with(KILN, 3) == _mined_with(CancunVM, 3)


def test_new_headers_share_on_copy_and_pickle_as_pyevms() -> None:
    chain = _chain(KILN)
    header = chain.header
    assert isinstance(header, CancunBlockHeader) and type(header) is not CancunBlockHeader
    stock = CancunBlockHeader(**header.as_dict())
    for overrides in ({}, {"gas_used": 5}, {"state_root": b"\x09" * 32}):
        ours, theirs = header.copy(**overrides), stock.copy(**overrides)
        assert type(ours) is type(header)
        assert ours == theirs and rlp.encode(ours) == rlp.encode(theirs)
        assert ours.hash == theirs.hash
        assert ours.parent_hash is header.parent_hash
    assert header.copy(gas_used=5).hash != header.hash  # the hash is not carried over a change
    for copied in (pickle.loads(pickle.dumps(header)), copy.deepcopy(header)):
        assert copied == header and copied.hash == header.hash
    assert type(pickle.loads(pickle.dumps(header))) is CancunBlockHeader
    with pytest.raises(TypeError):
        header.copy(requests_hash=b"\x00" * 32)  # not a Cancun field: pyrlp's error


def test_a_tools_own_header_class_is_left_as_is() -> None:
    class ToolsHeader(CancunBlockHeader):
        pass

    header = ToolsHeader(**_chain(KILN).header.as_dict())
    assert sharing_header(header) is header
    assert type(sharing_header(CancunBlockHeader(**header.as_dict()))) is not CancunBlockHeader


def test_a_field_set_in_pyrlps_mutable_context_is_made_immutable_on_copy(block: Any) -> None:
    mutable = block.copy()
    mutable._in_mutable_context = True
    mutable.withdrawals = list(block.withdrawals)  # pyrlp's own setter, which keeps a list
    mutable._in_mutable_context = False
    header = block.header.copy(gas_used=4)
    ours, theirs = mutable.copy(header=header), _pyrlp_copy(mutable, header=header)
    assert type(ours.withdrawals) is tuple and ours == theirs and hash(ours) == hash(theirs)


def test_a_constructor_further_along_the_classes_is_run(block: Any) -> None:
    """A tool's block class whose own constructor runs inside py-evm's chain of them."""
    from eth.rlp.blocks import BaseBlock

    from evmkiln.context.transaction_classes import block_class_for

    class Tagging(BaseBlock):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tag = "made by its constructor"

    pyevm_block = _pyevm_class(block)  # py-evm's CancunBlock, under evmkiln's mixins
    tool_block = type("ToolBlock", (pyevm_block, Tagging), {"fields": pyevm_block._meta.fields})
    kiln_block = block_class_for(tool_block)
    made = kiln_block(block.header, block.transactions, block.uncles, block.withdrawals)
    copied = made.copy(header=block.header.copy(gas_used=5))
    assert copied.tag == "made by its constructor"


@pytest.mark.parametrize("fork", ["cancun", "prague", "osaka"])
def test_blocks_are_constructed_as_pyevms_constructor_makes_them(fork: str, block: Any) -> None:
    """Every shape py-evm calls its block constructor with: the same attributes, of
    the same classes, in the same order, and the same block."""
    from evmkiln.context import make_vm_class

    kiln_class = make_vm_class("ir", fork=fork).get_block_class()
    header_class = dict(kiln_class._meta.fields)["header"]
    header = header_class(**block.header.as_dict())  # the fork's own header
    pyevm_class = _pyevm_class(kiln_class(header))
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((header,), {}),
        ((header, list(block.transactions)), {}),
        ((header,), {"transactions": block.transactions, "uncles": [], "withdrawals": None}),
        ((), {"header": header, "withdrawals": list(block.withdrawals)}),
        ((header, None, None, block.withdrawals), {}),
    ]
    for args, kwargs in calls:
        ours, theirs = kiln_class(*args, **kwargs), pyevm_class(*args, **kwargs)
        assert list(vars(ours)) == list(vars(theirs))
        for name, value in vars(theirs).items():
            mine = vars(ours)[name]
            assert type(mine) is type(value), name
            assert (int(mine) == int(value)) if name == "bloom_filter" else mine == value, name
        assert ours == theirs and _encoding(ours) == _encoding(theirs)
        assert ours.header is header
    wrong: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}),
        ((header,), {"gas": 1}),
        ((header, [], [], [], 1), {}),
        ((header,), {"header": header}),
        ((), {"transactions": []}),
        ((header,), {"requests": []}),
    ]
    for args, kwargs in wrong:
        with pytest.raises(TypeError) as mine_error:
            kiln_class(*args, **kwargs)
        with pytest.raises(TypeError) as their_error:
            pyevm_class(*args, **kwargs)
        # Python's own words for the same mistake, naming py-evm's constructor.
        assert str(mine_error.value) == str(their_error.value)
    # A mixed call is bound by py-evm's constructor.
    mixed = kiln_class(header, withdrawals=list(block.withdrawals))
    stock = pyevm_class(header, withdrawals=block.withdrawals)
    assert _attributes_of(mixed) == _attributes_of(stock) and mixed == stock


def test_a_subclass_with_its_own_constructor_is_constructed_by_it(block: Any) -> None:
    made: list[Any] = []

    class OwnConstructor(type(block)):  # type: ignore[misc]
        def __init__(self, header: Any, *args: Any, **kwargs: Any) -> None:
            made.append(header)
            super().__init__(header, *args, **kwargs)
            self.tag = len(made)

    own = OwnConstructor(block.header, block.transactions)
    assert made == [block.header] and own.tag == 1
    assert own == _pyevm_class(block)(block.header, block.transactions)
    assert own.withdrawals == () and own.block_requests == []


def test_blocks_pickle_and_copy_as_their_own_class_in_any_process(block: Any) -> None:
    from fresh_process import unpickled_elsewhere

    for again in (pickle.loads(pickle.dumps(block)), copy.deepcopy(block), copy.copy(block)):
        assert type(again) is type(block)
        assert again == block and rlp.encode(again) == rlp.encode(block)
        assert again.hash == block.hash and int(again.bloom_filter) == int(block.bloom_filter)
    # A fresh process (nothing of evmkiln imported) rebuilds the same class from py-evm's.
    script = (
        "import pickle, sys; block = pickle.loads(sys.stdin.buffer.read()); "
        "print(type(block).__module__, type(block).__name__, block.hash.hex())"
    )
    out = unpickled_elsewhere(script, block)
    cls = type(block)
    assert out.split() == [cls.__module__, cls.__name__, block.hash.hex()]
