"""Tier-up: hot code compiled again, with a backend's optimising tier, in the background.

Both native backends compile a large function with a fast tier first (LLVM's
fast code generator, Cranelift without optimisations), because the
optimising one costs seconds on the largest contracts and most contracts do
not run long enough to win that back.  The few that do are recompiled here,
once their runs have taken a backend's threshold, while the fast code keeps
running; the job installs the new code between two frames.  Both tiers
compile the same IR, so results are identical.

The queue is backend-neutral: a job knows how to build and install its own
code (:class:`TierUpJob`); the queue owns the thread, the order (oldest
first), the records the bench reports, and a clean shutdown.  At interpreter
exit the queue is dropped and a compile under way is waited for (a backend
must not be torn down under a thread still using it); when compiles run in a
compiler process, that process is killed first, so exit never waits for a
long optimising compile.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from evmkiln.codegen.compiler_process import CompilerProcess


class TierUpJob(Protocol):
    """One function to compile again: what :class:`TierUpQueue` needs of it."""

    name: str
    queued: bool

    def build(self, compiler: CompilerProcess | None) -> None:
        """Compile with the optimising tier (in ``compiler`` if given) and install the code."""

    def release(self) -> None:
        """Drop what only the compile needed (IR, text): the job is done with."""


@dataclass(slots=True)
class TierUpRecord:
    """One finished (or failed) tier-up, for reports."""

    name: str
    seconds: float
    error: str | None = None


@dataclass
class TierUpQueue:
    """One background thread compiling queued functions, oldest first."""

    compiler: CompilerProcess | None = None
    """Where the optimising compile runs (a process of its own, so that a long
    tier-up never holds up first compiles); ``None``: on the thread itself."""
    thread_name: str = "evmkiln-tier-up"
    records: list[TierUpRecord] = field(default_factory=list)
    _queue: queue.Queue[TierUpJob] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _compiling: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def submit(self, job: TierUpJob) -> None:
        with self._lock:
            if job.queued or self._closed:
                return
            job.queued = True
            self._queue.put(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=self.thread_name, daemon=True
                )
                self._thread.start()
                atexit.register(self.close)

    def close(self) -> None:
        """Accept nothing more, drop what is queued, wait for the compile under way."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
        if self.compiler is not None:
            self.compiler.kill()  # a compile under way ends now; its code is never installed
        with self._compiling:
            pass

    def wait(self) -> None:
        """Block until every queued function has been compiled (for benchmarks and tests)."""
        self._queue.join()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            with self._compiling:
                try:
                    if not self._closed:
                        self._build(job)
                finally:
                    job.release()
                    self._queue.task_done()

    def _build(self, job: TierUpJob) -> None:
        start = time.perf_counter()
        try:
            job.build(self.compiler)
            self.records.append(TierUpRecord(job.name, time.perf_counter() - start))
        except Exception as error:  # the fast code keeps running: correct, only slower
            self.records.append(TierUpRecord(job.name, time.perf_counter() - start, repr(error)))
