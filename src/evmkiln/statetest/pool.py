"""A process pool that runs cases one at a time per worker, with a time limit per case.

``concurrent.futures`` cannot kill the one worker stuck on a case, so this pool
manages its processes directly: each worker holds at most one case, the parent
waits on all pipes with a deadline, kills a worker whose case overruns (that
case is reported as ``timeout``) or that died (reported as ``errored``), and
starts a replacement.  Cases are dealt out individually, so the slowest file
does not serialize its cases on one core.  Workers are also recycled after a
number of cases, so that memory a backend keeps across cases (compiled-code
caches) stays bounded over a 16,000-case run, and, under an address-space limit
(``ulimit -v``), as soon as one has mapped a quarter of it (see
:data:`ADDRESS_SPACE_SHARE`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from evmkiln.process_memory import address_space_limit, process_address_space_bytes
from evmkiln.statetest.backends import DEFAULT_FORK, ArtifactsSetting
from evmkiln.statetest.results import CaseRef, CaseResult, Status
from evmkiln.statetest.worker import READY, worker_main
from evmkiln.worker_processes import main_module_hidden, stop_worker, worker_context

_WORKER_MODULE = "evmkiln.statetest.worker"
_PRELOADED = [_WORKER_MODULE, "eth.vm.forks.cancun"]
_POLL_SECONDS = 1.0
_MAX_FAILED_STARTS = 3
DEFAULT_MAX_CASES_PER_WORKER = 500
ADDRESS_SPACE_SHARE = 0.25
"""Under an address-space limit, a worker that has mapped more than this share of
it is replaced before its next case.  A case's own peak must fit in what is
left: py-evm keeps every child frame's call data, so the heaviest state tests
(50,000 calls of 50 KB each, ``stStaticCall/static_Call50000*``) map about
3 GiB in a fresh worker, on py-evm as under any backend.  A worker that had
kept the address space of earlier heavy cases (freed memory that the
allocator does not unmap) failed them under a 4 GiB limit."""


def _context() -> Any:
    return worker_context(_PRELOADED)


@dataclass
class _Slot:
    process: Any
    conn: Connection
    task: tuple[int, CaseRef] | None = None
    started: float = 0.0
    ready: bool = False
    """The worker has imported its backend and waits for cases (start-up is not timed)."""
    cases: int = 0


class CasePool:
    """Runs :class:`CaseRef` tasks on ``jobs`` worker processes."""

    def __init__(
        self,
        backend: str,
        jobs: int,
        timeout: float,
        max_cases_per_worker: int = DEFAULT_MAX_CASES_PER_WORKER,
        artifacts: ArtifactsSetting | None = None,
        fork: str = DEFAULT_FORK,
        runtime: Any = None,
    ) -> None:
        """``max_cases_per_worker`` of 0 keeps each worker for the whole run;
        ``runtime`` is a picklable runtime policy for the workers' VM class."""
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_cases_per_worker < 0:
            raise ValueError("max_cases_per_worker must not be negative")
        self.backend = backend
        self.jobs = jobs
        self.timeout = timeout
        self.max_cases_per_worker = max_cases_per_worker
        self.artifacts = artifacts
        self.fork = fork
        self.runtime = runtime
        self._ctx = _context()
        limit = address_space_limit()
        self._recycle_above = None if limit is None else int(limit * ADDRESS_SPACE_SHARE)

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main,
            args=(child, self.backend, self.artifacts, self.fork, self.runtime),
            name="evmkiln-statetest",
            daemon=True,
        )
        with main_module_hidden():
            process.start()
        child.close()
        return _Slot(process=process, conn=parent)

    def _worn_out(self, slot: _Slot) -> bool:
        limit = self.max_cases_per_worker
        if limit > 0 and slot.cases >= limit:
            return True
        above = self._recycle_above
        return above is not None and process_address_space_bytes(slot.process.pid) > above

    @staticmethod
    def _stop(slot: _Slot, kill: bool) -> None:
        stop_worker(slot.process, slot.conn, kill=kill)

    def run(
        self,
        refs: Iterable[CaseRef],
        on_result: Callable[[CaseResult], None] | None = None,
    ) -> list[CaseResult]:
        """Run every case; results come back in the order of ``refs``."""
        queue: deque[tuple[int, CaseRef]] = deque(enumerate(refs))
        total = len(queue)
        results: dict[int, CaseResult] = {}
        slots = [self._start() for _ in range(min(self.jobs, total))]
        failed_starts = 0

        def finish(task_id: int, result: CaseResult) -> None:
            results[task_id] = result
            if on_result is not None:
                on_result(result)

        def dispatch(slot: _Slot) -> None:
            if queue and slot.ready:
                slot.task = queue.popleft()
                slot.started = time.monotonic()
                slot.conn.send(slot.task)
            else:
                slot.task = None

        def replace(index: int, status: Status, reason: str) -> None:
            slot = slots[index]
            assert slot.task is not None
            task_id, ref = slot.task
            elapsed = time.monotonic() - slot.started
            self._stop(slot, kill=True)
            finish(task_id, CaseResult.for_case(ref, status, reason, elapsed, self.backend))
            slots[index] = self._start()

        def fail_remaining(reason: str) -> None:
            while queue:
                task_id, ref = queue.popleft()
                finish(task_id, CaseResult.for_case(ref, Status.ERRORED, reason, 0.0, self.backend))

        try:
            while len(results) < total:
                busy = [slot for slot in slots if slot.task is not None]
                starting = [slot for slot in slots if not slot.ready and not slot.conn.closed]
                wait_for = _POLL_SECONDS
                if busy:
                    nearest = min(slot.started for slot in busy) + self.timeout
                    wait_for = max(0.0, min(nearest - time.monotonic(), _POLL_SECONDS))
                ready = wait([slot.conn for slot in busy + starting], timeout=wait_for)
                for index, slot in enumerate(slots):
                    if slot.conn not in ready:
                        continue
                    try:
                        message = slot.conn.recv()
                    except (EOFError, OSError):
                        slot.process.join(timeout=5)
                        code = slot.process.exitcode
                        if slot.task is not None:
                            replace(
                                index, Status.ERRORED, f"worker process died (exit code {code})"
                            )
                            continue
                        failed_starts += 1
                        self._stop(slot, kill=True)
                        if failed_starts > _MAX_FAILED_STARTS:
                            fail_remaining(f"worker processes fail to start (exit code {code})")
                            slots[index] = slot
                            continue
                        slots[index] = self._start()
                        continue
                    if message == READY:
                        slot.ready = True
                        failed_starts = 0
                    else:
                        task_id, result = message
                        finish(task_id, result)
                        slot.cases += 1
                        if self._worn_out(slot) and queue:
                            slot.task = None
                            self._stop(slot, kill=False)
                            slots[index] = self._start()
                            continue
                    dispatch(slot)
                now = time.monotonic()
                for index, slot in enumerate(slots):
                    if slot.task is not None and now - slot.started > self.timeout:
                        replace(index, Status.TIMEOUT, f"exceeded the {self.timeout:g} s limit")
        finally:
            for slot in slots:
                if slot.process.exitcode is None:
                    self._stop(slot, kill=slot.task is not None or not slot.ready)
        return [results[index] for index in range(total)]
