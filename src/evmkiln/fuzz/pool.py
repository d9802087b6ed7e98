"""Worker processes that run one program at a time each, and outlive their crashes.

Why not ``concurrent.futures``: when a ``ProcessPoolExecutor`` worker dies,
the executor marks itself broken and fails every pending future, without
saying which program killed it.  Here every worker has its own pipe and holds
at most one task at a time, so the parent always knows the task in flight on
each worker.  When a pipe reaches end-of-file, the task that worker held is
the one it died on -- whatever killed it (SIGSEGV, SIGABRT, ``os._exit``, the
OOM killer), with no cooperation from the dying process and no shared state
to read back.  That task is reported as :class:`Died` with the signal or exit
code, a new worker takes the dead one's place, and the run goes on.  One task
per round trip costs tens of microseconds against milliseconds per program.

A task that runs past ``timeout`` has its worker killed (a hang is a finding
too).  Workers are recycled after ``recycle_after`` tasks, so that memory held
for compiled code stays bounded over runs of 100,000 programs.

Workers start from a forkserver (see :mod:`evmkiln.worker_processes`).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from evmkiln.fuzz.results import ProgramReport
from evmkiln.fuzz.worker import FAILED, READY, Task, WorkerSpec, worker_main
from evmkiln.worker_processes import main_module_hidden, stop_worker, worker_context

_PRELOADED = ["evmkiln.fuzz.worker", "eth.vm.forks.cancun", "evmkiln.context"]
_POLL_SECONDS = 1.0
_MAX_FAILED_STARTS = 3
DEFAULT_TIMEOUT = 120.0
DEFAULT_RECYCLE_AFTER = 300
"""Programs per worker before it is replaced.  Evicting a code from the VM's cache
does not free everything a backend made for it: an llvm worker grew by about
1.6 MB per program (700 MB after 360 programs); a restart costs 0.2-1 s."""


@dataclass(frozen=True)
class Died:
    """The worker running a task ended without replying."""

    reason: str
    timed_out: bool = False


Reply = ProgramReport | Died | str
"""A report, a worker's death, or the description of a worker-side error."""


class WorkerStartError(RuntimeError):
    """Workers cannot start: an engine does not load, or the process dies at start-up."""


def death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"worker killed by signal {-exitcode}"
    return f"worker exited with code {exitcode}"


@dataclass
class _Slot:
    process: Any
    conn: Connection
    task: Task | None = None
    started: float = 0.0
    ready: bool = False
    done: int = 0


class WorkerPool:
    """``jobs`` workers for one :class:`WorkerSpec`; use as a context manager."""

    def __init__(
        self,
        spec: WorkerSpec,
        jobs: int,
        timeout: float = DEFAULT_TIMEOUT,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.spec = spec
        self.jobs = jobs
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.restarts = 0
        """Workers started to replace one that died or timed out."""
        self._ctx = worker_context(_PRELOADED)
        self._slots: list[_Slot] = []
        self._failed_starts = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for slot in self._slots:
            self._stop(slot, kill=slot.task is not None or not slot.ready)
        self._slots = []

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child, self.spec), name="evmkiln-fuzz", daemon=True
        )
        with main_module_hidden():
            process.start()
        child.close()
        return _Slot(process=process, conn=parent)

    @staticmethod
    def _stop(slot: _Slot, kill: bool) -> None:
        stop_worker(slot.process, slot.conn, kill=kill)

    def run(self, tasks: Iterable[Task], on_reply: Callable[[Task, Reply], None]) -> None:
        """Run ``tasks`` (pulled lazily, so the iterable may decide when to stop)."""
        pending = iter(tasks)
        exhausted = False
        while len(self._slots) < self.jobs:
            self._slots.append(self._start())
        while True:
            for slot in self._slots:
                if not exhausted and slot.ready and slot.task is None:
                    task = next(pending, None)
                    if task is None:
                        exhausted = True
                    else:
                        slot.task, slot.started = task, time.monotonic()
                        slot.conn.send(task)
            busy = [slot for slot in self._slots if slot.task is not None]
            if exhausted and not busy:
                return
            self._wait_and_collect(busy, on_reply)

    def run_one(self, task: Task) -> Reply:
        replies: list[Reply] = []
        self.run([task], lambda _task, reply: replies.append(reply))
        return replies[0]

    def _wait_and_collect(self, busy: list[_Slot], on_reply: Callable[[Task, Reply], None]) -> None:
        starting = [slot for slot in self._slots if not slot.ready]
        wait_for = _POLL_SECONDS
        if busy:
            nearest = min(slot.started for slot in busy) + self.timeout
            wait_for = max(0.0, min(nearest - time.monotonic(), _POLL_SECONDS))
        ready = wait([slot.conn for slot in busy + starting], timeout=wait_for)
        for index, slot in enumerate(self._slots):
            if slot.conn in ready:
                self._receive(index, slot, on_reply)
        now = time.monotonic()
        for index, slot in enumerate(self._slots):
            if slot.task is not None and now - slot.started > self.timeout:
                task = slot.task
                self._replace(index, kill=True)
                on_reply(task, Died(f"no reply within {self.timeout:g} s", timed_out=True))

    def _receive(self, index: int, slot: _Slot, on_reply: Callable[[Task, Reply], None]) -> None:
        try:
            message = slot.conn.recv()
        except (EOFError, OSError):
            slot.process.join(timeout=5)
            reason = death_reason(slot.process.exitcode)
            task = slot.task
            if task is None:
                self._failed_starts += 1
                if self._failed_starts > _MAX_FAILED_STARTS:
                    raise WorkerStartError(f"workers die while starting ({reason})") from None
            self._replace(index, kill=True)
            if task is not None:
                on_reply(task, Died(reason))
            return
        if message == READY:
            slot.ready = True
            self._failed_starts = 0
            return
        if isinstance(message, tuple) and message[0] == FAILED:
            raise WorkerStartError(f"workers cannot load their engines: {message[1]}")
        task = slot.task
        assert task is not None and message[0] == task.id
        slot.task = None
        slot.done += 1
        if self.recycle_after and slot.done >= self.recycle_after:
            self._stop(slot, kill=False)
            self._slots[index] = self._start()
        on_reply(task, message[1])

    def _replace(self, index: int, kill: bool) -> None:
        self._stop(self._slots[index], kill=kill)
        self._slots[index] = self._start()
        self.restarts += 1
