"""The loop run by each worker process of the case pool.

A worker receives :class:`CaseRef` tasks over a pipe, loads (and keeps a few)
fixture files, runs the case and sends back its :class:`CaseResult`.  Running
in a separate process is what lets the parent enforce a per-case time limit by
killing a worker, and survive a backend that crashes the interpreter.

EVM calls nest up to 1024 frames and py-evm recurses in Python for each, so
the loop runs in a thread with a large stack and a raised recursion limit.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

from evmkiln.deep_stack import on_deep_stack
from evmkiln.fixtures.loading import FixtureError, load_state_test_file
from evmkiln.fixtures.statetest import StateTestFile
from evmkiln.statetest.backends import (
    DEFAULT_FORK,
    ArtifactsSetting,
    BackendUnavailable,
    resolve_vm_class,
)
from evmkiln.statetest.discovery import post_key_of
from evmkiln.statetest.results import CaseRef, CaseResult, FrameCounts, Status
from evmkiln.statetest.verdict import describe_exception, run_case

READY = "ready"
"""First message of a worker: start-up is done, cases may be sent (and timed)."""

_CACHED_FILES = 4


def frame_counts(vm_class: type[Any]) -> FrameCounts | None:
    """The running totals of an evmkiln VM class's dispatch counters; None for other VMs."""
    stats = getattr(vm_class, "stats", None)
    if stats is None:
        return None
    return FrameCounts(
        aot=stats.frames_run_aot,
        jit=stats.frames_run_compiled - stats.frames_run_aot,
        interpreted=stats.frames_interpreted,
        jit_codes=stats.frames_compiled,
        artifacts_loaded=stats.aot_loaded,
        without_code=stats.frames_without_code,
    )


def _difference(after: FrameCounts, before: FrameCounts) -> FrameCounts:
    return FrameCounts(
        *(getattr(after, f.name) - getattr(before, f.name) for f in dataclasses.fields(after))
    )


class _Worker:
    def __init__(
        self,
        backend: str,
        artifacts: ArtifactsSetting | None = None,
        fork: str = DEFAULT_FORK,
        runtime: Any = None,
    ) -> None:
        self.backend = backend
        self.runtime = runtime
        self.artifacts = artifacts
        self.fork = fork
        self.post_key = post_key_of(fork)
        self._files: OrderedDict[str, StateTestFile | FixtureError] = OrderedDict()
        self._vm_class: type[Any] | None = None
        self._vm_error: str | None = None

    def _load(self, path: str) -> StateTestFile | FixtureError:
        cached = self._files.get(path)
        if cached is not None:
            self._files.move_to_end(path)
            return cached
        loaded: StateTestFile | FixtureError
        try:
            loaded = load_state_test_file(path)
        except FixtureError as exc:
            loaded = exc
        self._files[path] = loaded
        if len(self._files) > _CACHED_FILES:
            self._files.popitem(last=False)
        return loaded

    def _vm(self) -> type[Any] | str:
        if self._vm_class is None and self._vm_error is None:
            try:
                self._vm_class = resolve_vm_class(
                    self.backend, self.artifacts, self.fork, self.runtime
                )
            except BackendUnavailable as exc:
                self._vm_error = str(exc)
            except Exception as exc:
                self._vm_error = describe_exception(exc)
        return self._vm_class if self._vm_class is not None else str(self._vm_error)

    def warm_up(self) -> None:
        """Import the backend before announcing readiness, so no case pays for it."""
        self._vm()

    def run(self, ref: CaseRef) -> CaseResult:
        loaded = self._load(ref.file)
        if isinstance(loaded, FixtureError):
            return CaseResult.for_case(ref, Status.ERRORED, str(loaded), 0.0, self.backend)
        test = loaded.root.get(ref.test_name)
        cases = test.post.get(self.post_key, []) if test is not None else []
        if test is None or ref.post_index >= len(cases):
            reason = f"case vanished from {ref.file} (file changed during the run?)"
            return CaseResult.for_case(ref, Status.ERRORED, reason, 0.0, self.backend)
        vm_class = self._vm()
        if isinstance(vm_class, str):
            return CaseResult.for_case(ref, Status.ERRORED, vm_class, 0.0, self.backend)
        before = frame_counts(vm_class)
        result = run_case(ref, test, cases[ref.post_index], vm_class, self.backend, self.post_key)
        after = frame_counts(vm_class)
        if before is None or after is None:
            return result
        return dataclasses.replace(result, frames=_difference(after, before))


def _serve(
    conn: Connection,
    backend: str,
    artifacts: ArtifactsSetting | None,
    fork: str,
    runtime: Any = None,
) -> None:
    worker = _Worker(backend, artifacts, fork, runtime)
    worker.warm_up()
    conn.send(READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        task_id, ref = message
        try:
            result = worker.run(ref)
        except BaseException as exc:  # keep serving: report, never die on a case
            result = CaseResult.for_case(ref, Status.ERRORED, describe_exception(exc), 0.0, backend)
        conn.send((task_id, result))


def worker_main(
    conn: Connection,
    backend: str,
    artifacts: ArtifactsSetting | None = None,
    fork: str = DEFAULT_FORK,
    runtime: Any = None,
) -> None:
    """Entry point of a worker process."""
    on_deep_stack(lambda: _serve(conn, backend, artifacts, fork, runtime))
