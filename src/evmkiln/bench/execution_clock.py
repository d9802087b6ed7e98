"""Timing the execution of a transaction's message apart from the transaction around it.

``vm.apply_transaction`` does much more than run code: it validates the
transaction (nonce, balance, the signature, whose recovery is elliptic-curve
arithmetic), builds the message, and afterwards pays the refund and the
coinbase.  That bookkeeping is py-evm's, identical for every evmkiln backend,
and it is what a small fixture's time mostly consists of.  The bench reports
the *execution* time as its headline: the time of the executor's
``build_computation``, the top-level message with every nested frame and
compile included, which is exactly the work a backend can change.

revm is timed around pyrevm's ``message_call``, which includes revm's own
transaction handling and the Python binding; that only flatters revm's
competitors less, never more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

EXECUTION = "execution"
TRANSACTION = "transaction"
TIMINGS = (EXECUTION, TRANSACTION)


@dataclass(slots=True)
class ExecutionClock:
    """Seconds the transactions spent executing their messages."""

    last: float = 0.0
    """The last transaction's."""
    total: float = 0.0
    """Every transaction's, added up."""
    each: list[float] | None = None
    """Every transaction's, in order, when kept (``with_execution_clock(keep_each=True)``)."""

    def record(self, seconds: float) -> None:
        self.last = seconds
        self.total += seconds
        if self.each is not None:
            self.each.append(seconds)


def with_execution_clock(
    vm_class: type[Any], *, keep_each: bool = False
) -> tuple[type[Any], ExecutionClock]:
    """A subclass of ``vm_class`` whose executor times ``build_computation`` into a clock."""
    clock = ExecutionClock(each=[] if keep_each else None)
    state_class: Any = vm_class.get_state_class()
    executor: Any = state_class.transaction_executor_class

    class TimedExecutor(executor):  # type: ignore[misc]
        def build_computation(self, message: Any, transaction: Any) -> Any:
            start = time.perf_counter()
            try:
                return super().build_computation(message, transaction)
            finally:
                clock.record(time.perf_counter() - start)

    timed_state = state_class.configure(transaction_executor_class=TimedExecutor)
    timed_vm: type[Any] = vm_class.configure(_state_class=timed_state)
    return timed_vm, clock
