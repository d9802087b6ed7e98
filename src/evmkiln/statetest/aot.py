"""Compiling a state-test selection's contracts ahead of time, before running it from them.

``evmkiln statetest PATHS --backend B --aot DIR`` proves that the backend's
artifacts give the same results as its JIT: every contract that exists before
a case runs (the pre-state's code, and the initcode of contract-creation
transactions) is first compiled into ``DIR``, then the cases run with the VM
loading artifacts from ``DIR`` and counting the frames they ran.  Code created
during a case (a contract's deployed code, initcode passed to CREATE) cannot
be known beforehand; it is JIT-compiled and counted, not refused.

Compiling is the slow part (for ``llvm`` an LLVM compile plus a ``cc`` link per
contract), so it runs on a process pool, and a code whose artifact is already
in ``DIR`` is not compiled again: a second run over the same selection only
loads.  An artifact already there is loaded once in a worker first, and
replaced if the backend refuses it: artifacts are bound to the compiler's
sources, and a directory left by an older build would otherwise make every
case error.  Nothing here depends on a particular backend beyond the
:class:`~evmkiln.codegen.backend.AotBackend` protocol.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evmkiln.fixtures.loading import FixtureError, load_state_test_file
from evmkiln.statetest.backends import DEFAULT_FORK
from evmkiln.statetest.results import CaseRef

if TYPE_CHECKING:
    from evmkiln.codegen.backend import AotBackend, CompileOptions
    from evmkiln.context.artifact_store import CompiledArtifact


def selection_codes(cases: Iterable[CaseRef]) -> list[bytes]:
    """Every distinct non-empty code the selected cases start with, in discovery order.

    The pre-state code of each selected test, and for a contract-creation
    transaction the initcode (``data``) of each selected case.  Files that no
    longer parse are skipped: the run reports them as errored anyway.
    """
    by_file: dict[str, list[CaseRef]] = defaultdict(list)
    for ref in cases:
        by_file[ref.file].append(ref)
    codes: dict[bytes, None] = {}
    for file, refs in by_file.items():
        try:
            parsed = load_state_test_file(file)
        except FixtureError:
            continue
        for ref in refs:
            test = parsed.root.get(ref.test_name)
            if test is None:
                continue
            for account in test.pre.values():
                if account.code:
                    codes.setdefault(bytes(account.code), None)
            tx = test.transaction
            if tx.to is None and ref.data < len(tx.data) and tx.data[ref.data]:
                codes.setdefault(bytes(tx.data[ref.data]), None)
    return list(codes)


@dataclass(frozen=True, slots=True)
class CompileJob:
    """What every compile worker needs besides the code (picklable)."""

    backend: str
    directory: str
    fork: str = DEFAULT_FORK
    options: CompileOptions | None = None
    """``None``: the defaults, which is what ``make_vm_class`` without options uses."""


@cache
def _aot_backend(name: str) -> AotBackend:
    """One backend object per worker process: importing and setting up a backend is slow."""
    from evmkiln.context.artifact_store import require_aot
    from evmkiln.context.registry import get_backend

    return require_aot(get_backend(name))


REUSED = "reused"
"""The artifact was in the directory and loads."""
REPLACED = "replaced"
"""The artifact in the directory was refused on load (stale, corrupt) and compiled anew."""
COMPILED = "compiled"
FAILED = "failed"


def _ensure_one(job: CompileJob, code: bytes) -> tuple[CompiledArtifact, str]:
    """Runs in a worker process: make sure ``code`` has a usable artifact in the directory."""
    from evmkiln.codegen.artifact_errors import ArtifactError
    from evmkiln.codegen.backend import CompileOptions
    from evmkiln.context.artifact_store import (
        CompiledArtifact,
        artifact_path,
        code_hash,
        compile_artifacts,
    )

    backend = _aot_backend(job.backend)
    options = job.options if job.options is not None else CompileOptions()
    digest = code_hash(code)
    path = artifact_path(job.directory, digest, backend.artifact_suffix)
    outcome = COMPILED
    if path.exists():
        try:
            loaded = backend.load(path, fork=job.fork, options=options)
        except ArtifactError:
            outcome = REPLACED
        else:
            if loaded.code_hash == digest:
                return CompiledArtifact(digest, path), REUSED
            outcome = REPLACED
    (result,) = compile_artifacts(backend, [code], job.directory, fork=job.fork, options=options)
    return result, outcome if result.path is not None else FAILED


@dataclass(slots=True)
class CompileSummary:
    """What the compile step did."""

    contracts: int = 0
    """Distinct codes of the selection."""
    reused: int = 0
    """Codes whose artifact was already in the directory (and loads)."""
    replaced: int = 0
    """Codes whose artifact was in the directory but refused (stale, corrupt): compiled anew."""
    compiled: int = 0
    """Codes compiled (``replaced`` included)."""
    failed: list[tuple[bytes, str]] = field(default_factory=list)
    """Code hash and reason of each code that did not compile."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "contracts": self.contracts,
            "reused": self.reused,
            "replaced": self.replaced,
            "compiled": self.compiled,
            "failed": len(self.failed),
            "compile_seconds": round(self.seconds, 3),
        }


_TASKS_PER_WORKER = 2000
"""Recycle compile workers now and then: checking an artifact loads it into the worker.

Recycling is done by starting a fresh pool for every ``jobs * _TASKS_PER_WORKER``
codes, not with ``max_tasks_per_child``: a pool replaces a retired worker from
its own management thread, outside
:func:`~evmkiln.worker_processes.main_module_hidden`, and on Python 3.11 the
replacement never came up and the pool waited forever once every first-generation
worker had retired."""


def ensure_in_parallel(
    job: CompileJob,
    codes: list[bytes],
    jobs: int,
    on_done: Callable[[CompiledArtifact, str], None] | None = None,
) -> list[tuple[CompiledArtifact, str]]:
    """Give each code a usable artifact in ``job.directory``, on ``jobs`` processes.

    Results come in completion order, each with what was done (:data:`REUSED`,
    :data:`REPLACED`, :data:`COMPILED`, :data:`FAILED`).  A code that fails
    to compile, or whose worker process dies, is reported, never raised: the
    run then shows what it means for the cases using it.
    """
    Path(job.directory).mkdir(parents=True, exist_ok=True)
    results: list[tuple[CompiledArtifact, str]] = []
    batch = max(1, jobs) * _TASKS_PER_WORKER
    for start in range(0, len(codes), batch):
        results.extend(_ensure_batch(job, codes[start : start + batch], jobs, on_done))
    return results


def _ensure_batch(
    job: CompileJob,
    codes: list[bytes],
    jobs: int,
    on_done: Callable[[CompiledArtifact, str], None] | None,
) -> list[tuple[CompiledArtifact, str]]:
    """One pool of fresh workers for ``codes`` (see :data:`_TASKS_PER_WORKER`)."""
    from evmkiln.context.artifact_store import CompiledArtifact, code_hash
    from evmkiln.statetest.pool import _context
    from evmkiln.worker_processes import main_module_hidden

    results: list[tuple[CompiledArtifact, str]] = []
    if not codes:
        return results
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(codes)), mp_context=_context())
    try:
        # Workers start on the first submits; see main_module_hidden for why they
        # must not re-run this process's __main__.
        with main_module_hidden():
            pending: dict[Future[tuple[CompiledArtifact, str]], bytes] = {
                executor.submit(_ensure_one, job, code): code for code in codes
            }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                code = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died (a crash in the compiler)
                    error = f"{type(exc).__name__}: {exc}"
                    result = (CompiledArtifact(code_hash(code), None, error), FAILED)
                results.append(result)
                if on_done is not None:
                    on_done(*result)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return results


def prepare_artifacts(
    job: CompileJob,
    cases: Iterable[CaseRef],
    jobs: int,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[CompiledArtifact, str], None] | None = None,
) -> CompileSummary:
    """Give every code of ``cases`` a usable artifact in ``job.directory``.

    ``on_start(n)`` is told how many codes there are (to size a progress
    bar), ``on_done`` is called as each is settled.
    """
    start = time.monotonic()
    _aot_backend(job.backend)  # an unknown or non-AOT backend fails here, not in every worker
    codes = selection_codes(cases)
    summary = CompileSummary(contracts=len(codes))
    if on_start is not None:
        on_start(len(codes))
    for result, outcome in ensure_in_parallel(job, codes, jobs, on_done):
        if outcome == FAILED:
            summary.failed.append((result.code_hash, result.error))
        elif outcome == REUSED:
            summary.reused += 1
        else:
            summary.compiled += 1
            summary.replaced += outcome == REPLACED
    summary.seconds = time.monotonic() - start
    return summary
