"""Logs handed over in a batch get the counters py-evm's one-at-a-time path gives them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from eth.vm.transaction_context import BaseTransactionContext

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
