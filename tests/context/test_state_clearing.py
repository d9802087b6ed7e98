"""EIP-161's touched accounts in one walk: the same set as py-evm's quadratic one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.computation import BaseComputation
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.spurious_dragon._utils import collect_touched_accounts
from eth.vm.forks.spurious_dragon.state import SpuriousDragonTransactionExecutor
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import make_vm_class
from evmkiln.context.state_clearing import (
    RIPEMD160,
    linear_state_clearing,
    touched_accounts,
)

COINBASE = b"\xc0" * 20
ADDRESSES = [RIPEMD160, CREATE_CONTRACT_ADDRESS, *(bytes([i]) * 20 for i in range(0x10, 0x16))]


@dataclass
class _Message:
    to: bytes


@dataclass
class _State:
    coinbase: bytes = COINBASE


@dataclass(eq=False)
class FakeComputation:
    """What both walks read of a computation; the beneficiaries walk is py-evm's own."""

    msg: _Message
    is_error: bool
    beneficiaries: list[bytes]
    children: list[FakeComputation] = field(default_factory=list)
    state: _State = field(default_factory=_State)

    get_self_destruct_beneficiaries = BaseComputation.get_self_destruct_beneficiaries


address = st.sampled_from(ADDRESSES)


def _frames(children: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[FakeComputation]:
    return st.builds(
        FakeComputation,
        msg=st.builds(_Message, to=address),
        is_error=st.booleans(),
        beneficiaries=st.lists(address, max_size=2),
        children=children,
    )


trees = st.recursive(
    _frames(st.just([])), lambda inner: _frames(st.lists(inner, max_size=3)), max_leaves=30
)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_same_accounts_as_pyevm(root: FakeComputation) -> None:
    assert touched_accounts(root) == collect_touched_accounts(root)


def test_a_deep_chain_of_frames() -> None:
    """1,024 nested frames, a failure in the middle, RIPEMD160 and a beneficiary at the bottom."""
    leaf = FakeComputation(_Message(RIPEMD160), False, [ADDRESSES[2], RIPEMD160])
    frame = leaf
    for depth in range(1023, 0, -1):
        frame = FakeComputation(_Message(ADDRESSES[3 + depth % 3]), depth == 512, [], [frame])
    assert touched_accounts(frame) == collect_touched_accounts(frame)
    assert RIPEMD160 in touched_accounts(frame)
    assert ADDRESSES[2] not in touched_accounts(frame)  # under the failed frame


def test_only_spurious_dragon_finalisation_is_replaced() -> None:
    executor = CancunVM.get_state_class().transaction_executor_class
    linear = linear_state_clearing(executor)
    assert issubclass(linear, executor)
    assert linear.finalize_computation is not SpuriousDragonTransactionExecutor.finalize_computation

    class Own(executor):  # type: ignore[misc, valid-type]
        def finalize_computation(self, transaction: Any, computation: Any) -> Any:
            return computation

    assert linear_state_clearing(Own) is Own


def test_evmkiln_vm_classes_clear_in_one_walk() -> None:
    for flat in (True, False):
        vm_class = make_vm_class("ir", fork="cancun", flat_state=flat, persistent_cache=False)
        executor = vm_class.get_state_class().transaction_executor_class
        assert executor.finalize_computation is not (
            SpuriousDragonTransactionExecutor.finalize_computation
        )
