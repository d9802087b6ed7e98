"""A tool's state class watching storage sees a compiled SSTORE's calls in py-evm's order:
the write, then the slot's warming (none when the write runs out of gas at its price)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from message_harness import SENDER, A, execution_context

from evmkiln.context import make_vm_class

CODE = bytes.fromhex("600160005500")  # SSTORE(0, 1); STOP


def _calls(vm_class: Any, gas: int) -> tuple[str, list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []

    class Watching(vm_class.get_state_class()):  # type: ignore[misc]
        def mark_storage_warm(self, address: bytes, slot: int) -> None:
            seen.append(("warm", slot))
            super().mark_storage_warm(address, slot)

        def set_storage(self, address: bytes, slot: int, value: int) -> None:
            seen.append(("set", slot))
            super().set_storage(address, slot, value)

    state = Watching(AtomicDB(), execution_context(), BLANK_ROOT_HASH)
    state.set_code(A, CODE)
    state.lock_changes()
    seen.clear()
    context = CancunTransactionContext(gas_price=10, origin=SENDER)
    message = Message(gas=gas, to=A, sender=SENDER, value=0, data=b"", code=CODE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        computation = state.computation_class.apply_message(state, message, context)
    outcome = type(computation.error).__name__ if computation.is_error else "success"
    return outcome, seen


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@pytest.mark.parametrize(
    "gas", [5_000, 22_000, 30_000], ids=["short of the price", "short of the access", "enough"]
)
def test_a_watched_sstore_writes_then_warms_as_in_pyevm(backend: str, gas: int) -> None:
    expected = _calls(CancunVM, gas)
    vm_class = make_vm_class(backend, "cancun", interpret_on_compile_error=False)
    assert _calls(vm_class, gas) == expected
    assert expected[1] == ([] if gas == 5_000 else [("set", 0), ("warm", 0)])
