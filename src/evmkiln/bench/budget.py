"""A wall-clock budget per engine and fixture, enforced by an interval timer.

py-evm needs minutes for snailtracer; waiting for it is what makes full runs
impractical.  The timer raises :class:`BudgetExceeded` in the main thread at
the deadline, which interrupts pure-Python engines mid-transaction.  Native
code (a JIT-compiled frame, revm) is interrupted only when it next returns to
Python, so the caller also checks elapsed time after each run.  Off the main
thread (where signals cannot be delivered) only the after-the-fact check runs.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class BudgetExceeded(BaseException):
    """The engine's time budget for this fixture ran out.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the ``except
    Exception`` of engines (a compile failure falling back to the interpreter)
    does not swallow it.
    """


def _no_exclusion() -> float:
    return 0.0


@contextmanager
def deadline(
    seconds: float | None, excluded: Callable[[], float] = _no_exclusion
) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` inside the block once ``seconds`` have passed.

    Time reported by ``excluded`` (compiling, which is reported apart) does
    not count: when the timer fires early because of it, it is re-armed.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable or seconds is None:
        yield
        return
    start = time.perf_counter()
    budget = seconds

    def expire(signum: int, frame: FrameType | None) -> None:
        left = budget + excluded() - (time.perf_counter() - start)
        if left > 0.01:
            signal.setitimer(signal.ITIMER_REAL, left)
            return
        raise BudgetExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
