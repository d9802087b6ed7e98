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

STACK_SIZE = 128 * 1024 * 1024
"""Native stack of the thread.  Measured at the EVM's full depth (1024 nested
CALLs, ``tests/hostile/test_hostile_deep.py``'s contract): py-evm touches
0.8 MiB of it, ``ir`` 0.6, ``llvm`` 2.8, ``wasm`` 4.1 (whose nested runs also
keep 4 MiB in reserve, and which needs 64 MiB to run inline), with 7-18
Python frames per EVM frame.  At :data:`RECURSION_LIMIT` Python frames the
stack allows 1.3 KiB of C stack per frame, five times what the deep runs use
(256 bytes).  It is reserved address space: 512 MiB, as it used to be, left
state tests that py-evm passes in a 4 GiB address space failing there."""
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
