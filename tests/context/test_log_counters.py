"""Logs handed over in a batch get the counters py-evm's one-at-a-time path gives them."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth.vm.transaction_context import BaseTransactionContext
from message_harness import SENDER, A, make_state

from evmkiln.context import make_vm_class
from evmkiln.context.vm import CompiledFrames

ACCOUNT = bytes(range(20))
LOGS = [((1, 2, 3), b"a"), ((), b""), ((7,), bytes(64)), ((1, 2, 3), b"a")]


def _holder(context: Any) -> Any:
    return SimpleNamespace(transaction_context=context, _log_entries=[])


def _context() -> BaseTransactionContext:
    return BaseTransactionContext(gas_price=1, origin=b"\x01" * 20)


def test_a_batch_is_recorded_as_one_log_at_a_time() -> None:
    batched, single = _holder(_context()), _holder(_context())
    for holder in (batched, single):
        holder.transaction_context.get_next_log_counter()  # an earlier log took 0
    CompiledFrames.add_checked_log_entries(batched, ACCOUNT, LOGS)
    for topics, data in LOGS:
        CompiledFrames.add_checked_log_entry(single, ACCOUNT, topics, data)
    assert batched._log_entries == single._log_entries
    assert [entry[0] for entry in batched._log_entries] == [1, 2, 3, 4]
    # Exactly one counter a log was drawn: the next log goes on from there.
    assert batched.transaction_context.get_next_log_counter() == 5


def test_an_empty_batch_draws_no_counter() -> None:
    holder = _holder(_context())
    CompiledFrames.add_checked_log_entries(holder, ACCOUNT, [])
    assert holder._log_entries == []
    assert holder.transaction_context.get_next_log_counter() == 0


def test_a_context_with_its_own_counter_is_asked_for_each_log() -> None:
    class TensContext(BaseTransactionContext):
        asked = 0

        def get_next_log_counter(self) -> int:
            type(self).asked += 1
            return 10 * type(self).asked

    holder = _holder(TensContext(gas_price=1, origin=b"\x01" * 20))
    CompiledFrames.add_checked_log_entries(holder, ACCOUNT, LOGS)
    assert TensContext.asked == len(LOGS)
    assert [entry[0] for entry in holder._log_entries] == [10, 20, 30, 40]
    assert [(entry[2], entry[3]) for entry in holder._log_entries] == LOGS


# -- end to end: five LOG1s of one compiled frame, numbered as py-evm numbers them --

LOGS_CODE = bytes.fromhex("60075f5fa1" * 5 + "00")  # LOG1(0, 0, topic 7) five times; STOP


class _NextOnly:
    """A counter with ``__next__`` only: enough for py-evm's ``next()``."""

    def __init__(self) -> None:
        self.drawn = 0

    def __next__(self) -> int:
        self.drawn += 1
        return 100 + self.drawn


def _instance_counter(context: Any) -> None:
    numbers = itertools.count(1000, 10)
    context.get_next_log_counter = lambda: next(numbers)  # a tool's hook on one context


def _next_only(context: Any) -> None:
    context._log_counter = _NextOnly()


def _finite(context: Any) -> None:
    context._log_counter = iter(range(4))  # runs out at the fifth log


def _counters(vm_class: Any, adjust: Callable[[Any], None]) -> object:
    state = make_state(vm_class, {A: {"code": LOGS_CODE}})
    context = CancunTransactionContext(gas_price=10, origin=SENDER)
    adjust(context)
    message = Message(gas=100_000, to=A, sender=SENDER, value=0, data=b"", code=LOGS_CODE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            computation = state.computation_class.apply_message(state, message, context)
    except Exception as error:  # py-evm lets a spent counter's StopIteration out
        return type(error).__name__
    return [entry[0] for entry in computation._log_entries]


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@pytest.mark.parametrize(
    "adjust", [_instance_counter, _next_only, _finite], ids=["instance hook", "next only", "finite"]
)
def test_a_context_numbering_logs_its_own_way_numbers_them_as_in_pyevm(
    backend: str, adjust: Callable[[Any], None]
) -> None:
    expected = _counters(CancunVM, adjust)
    vm_class = make_vm_class(backend, "cancun", interpret_on_compile_error=False)
    assert _counters(vm_class, adjust) == expected
