"""Running a callable where 1024 nested EVM frames fit.

py-evm nests a chain of Python calls per EVM frame, and compiled frames add
native frames of their own (a wasm frame re-enters the host through its
engine), so the 1024-frame depth the EVM allows needs far more than the
default 8 MiB thread stack and 1,000-call recursion limit.  Commands that
execute transactions run their work through :func:`on_deep_stack`, as the
state-test workers do, so that a deep transaction behaves as the EVM says
instead of crashing -- and so that backends never have to move a frame to a
helper thread of their own.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

STACK_SIZE = 512 * 1024 * 1024
RECURSION_LIMIT = 100_000

_T = TypeVar("_T")


def on_deep_stack(fn: Callable[[], _T]) -> _T:
    """``fn()`` on a new thread with a :data:`STACK_SIZE` stack; its result or exception."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    box: list[_T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    previous = threading.stack_size(STACK_SIZE)
    try:
        # A daemon, so that an interrupt reaching the caller's join ends the process
        # instead of waiting for the work to finish.
        thread = threading.Thread(target=target, name="evmkiln-deep-stack", daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if errors:
        raise errors[0]
    return box[0]
