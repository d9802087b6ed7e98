"""evmkiln's state classes: shortcuts that change nothing py-evm computes."""

from __future__ import annotations

from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from eth_utils.logging import ExtendedDebugLogger
from hypothesis import given, settings
from hypothesis import strategies as st
from message_harness import A, B, execution_context

from evmkiln.context.state_class import StateShortcuts, flat_state_class, with_flat_state

ADDRESSES = [A, B]

SLOTS = st.integers(0, 3)
VALUES = st.integers(0, 5)
step = st.one_of(
    st.tuples(st.just("store"), st.sampled_from(ADDRESSES), SLOTS, VALUES),
    st.tuples(st.just("transient"), st.sampled_from(ADDRESSES), SLOTS, VALUES),
    st.tuples(st.just("balance"), st.sampled_from(ADDRESSES), st.integers(0, 10**18)),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("revert")),
)


def _run(state_class: type[Any], steps: list[tuple[Any, ...]]) -> tuple[bytes, list[bytes]]:
    """Apply ``steps``; the final state root and every transient value, in order."""
    state = state_class(AtomicDB(), execution_context(), BLANK_ROOT_HASH)
    snapshots: list[Any] = []
    for op in steps:
        kind = op[0]
        if kind == "store":
            state.set_storage(op[1], op[2], op[3])
        elif kind == "transient":
            state.set_transient_storage(op[1], op[2], op[3].to_bytes(1, "big"))
        elif kind == "balance":
            state.set_balance(op[1], op[2])
        elif kind == "snapshot":
            snapshots.append(state.snapshot())
        elif snapshots:
            getattr(state, kind)(snapshots.pop())
    transient = [
        state.get_transient_storage(address, slot) for address in ADDRESSES for slot in range(4)
    ]
    state.lock_changes()
    return state.make_state_root(), transient


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30))
def test_shortcuts_leave_roots_and_transient_storage_as_pyevm(steps: list[tuple[Any, ...]]) -> None:
    # Over py-evm's own account database (as titanoboa's states are) and over the flat one.
    shortcuts_only = type("ShortcutsCancunState", (StateShortcuts, CancunState), {})
    want = _run(CancunState, steps)
    assert _run(shortcuts_only, steps) == want
    assert _run(flat_state_class(CancunState), steps) == want


def test_the_logger_is_pyevms_and_made_once() -> None:
    state_class = flat_state_class(CancunState, name="LoggedState")
    state = state_class(AtomicDB(), execution_context(), BLANK_ROOT_HASH)
    logger = state.logger
    assert isinstance(logger, ExtendedDebugLogger)
    assert logger.name == "eth.vm.state.LoggedState"
    assert state.logger is logger


def test_with_flat_state_keeps_the_vm_and_changes_the_state() -> None:
    vm_class = with_flat_state(CancunVM)
    assert issubclass(vm_class, CancunVM)
    assert issubclass(vm_class.get_state_class(), StateShortcuts)
