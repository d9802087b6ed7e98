"""Pausing Python's cyclic garbage collector around a compile.

Lowering and code generation allocate hundreds of thousands of small objects
(values, instructions, instruction tuples) that all stay alive until the
compile ends.  With the collector on, every few hundred allocations trigger a
collection that traverses them again, and the occasional full collection
walks the whole heap (py-evm's included): on a large contract that was a third
of the lowering time.  Nothing a compile allocates becomes garbage before it
returns, so collecting during it is pure overhead; the collector resumes (and
catches up) afterwards.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
"""Compiles under way in any thread; the collector is re-enabled when the last one ends."""
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the duration (nests, and is safe across threads)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
