"""Starting worker processes for the process pools (state tests, AOT compiles, fuzzing).

Workers start from a forkserver: a clean, pre-imported interpreter.  Forking
the parent directly would copy its threads' locks (the progress bar runs a
refresh thread) and whatever native state a backend set up in it, and
spawning would re-import py-evm for every replacement worker.  Where there is
no forkserver, workers are spawned.
"""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def worker_context(preload: Sequence[str]) -> Any:
    """The multiprocessing context workers start from, ``preload`` imported beforehand.

    The forkserver is shared by the whole process and starts with the first
    worker: the preload list of the first pool to start one is the one used.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return multiprocessing.get_context("spawn")


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """Start processes without making them re-run the parent's ``__main__``.

    Non-fork start methods re-execute the parent's main script in each child
    (to find functions defined there).  Workers need nothing from it: their
    entry points live in library modules.  Re-running the ``evmkiln`` script
    would import the whole CLI in every worker, and break every worker start
    if a CLI module changed after the run began; scripts driving a pool would
    need a ``__main__`` guard.  While a worker starts, ``__main__`` is a bare
    module, so there is nothing to re-run.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def stop_worker(process: Any, conn: Any, *, kill: bool) -> None:
    """End a pool worker: ask it to leave (``None`` on its pipe) or kill it; reap it.

    A worker that does not leave within 5 s is killed.  ``conn`` is closed.
    """
    if process.exitcode is None:
        if kill:
            process.kill()
        else:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                process.kill()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    conn.close()
