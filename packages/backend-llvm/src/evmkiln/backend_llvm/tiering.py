"""Tier-up: large functions that turn out hot are recompiled with the optimising code generator.

LLVM's optimising code generator is what makes loops fast (registers instead
of a spill around every instruction), but its cost grows faster than linearly
with function size: snailtracer's 7,500 IR instructions take 0.5 s with the
fast code generator and 7.9 s with -O2.  Paying that up front for every
large contract would make the JIT useless on contracts that run once.  So a
large function is first compiled with the fast code generator (see
:func:`evmkiln.backend_llvm.jit.codegen_level`), and once its runs have taken
:data:`TIER_UP_SECONDS` it is queued for the optimising one.  A background
thread compiles it in an LLVM context of its own while the fast code keeps
running; the new entry point replaces the old one between two frames.  Both
are compiled from the same IR, so the results are identical.

The old machine code is kept alive: a frame of the same contract may still be
running on it (a deeper frame can start on the new code meanwhile).

At interpreter exit the queue is dropped and a compile under way is waited
for: LLVM must not be torn down under a thread still using it.  When the
compile runs in a compiler process (the backend's default), that process is
killed first, so exit never waits for a long optimising compile.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit
from evmkiln.codegen.compiler_process import CompilerProcess

TIER_UP_SECONDS = 0.05
"""Run time (seconds, summed over runs) after which a fast-compiled function is optimised."""
OPTIMISING_CODEGEN = 2


@dataclass(slots=True)
class TierUp:
    """What an executable needs to be compiled again, and how long its runs took so far."""

    ir_text: str
    name: str
    opt_level: int
    install: Callable[[jit.Compiled], None]
    run_seconds: float = 0.0
    queued: bool = False


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
    job: str = "evmkiln.backend_llvm.jit:object_code"
    records: list[TierUpRecord] = field(default_factory=list)
    _queue: queue.Queue[TierUp] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _compiling: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def submit(self, job: TierUp) -> None:
        with self._lock:
            if job.queued or self._closed:
                return
            job.queued = True
            self._queue.put(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="evmkiln-llvm-tier-up", daemon=True
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
                        self._compile(job)
                finally:
                    job.ir_text = ""
                    self._queue.task_done()

    def _compile(self, job: TierUp) -> None:
        start = time.perf_counter()
        try:
            context = llvm.create_context()
            if self.compiler is None:
                module = jit.parse(job.ir_text, job.opt_level, context)
                job.install(jit.compile_module(module, job.name, OPTIMISING_CODEGEN, context))
            else:
                obj = self.compiler.call(self.job, job.ir_text, job.opt_level, OPTIMISING_CODEGEN)
                job.install(jit.load_object(obj, job.name, context))
            self.records.append(TierUpRecord(job.name, time.perf_counter() - start))
        except Exception as error:  # the fast code keeps running: correct, only slower
            self.records.append(TierUpRecord(job.name, time.perf_counter() - start, repr(error)))
