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
loads.  Nothing here depends on a particular backend beyond the
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
from evmkiln.statetest.backends import FORK
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


def missing_codes(codes: Iterable[bytes], directory: Path, backend: AotBackend) -> list[bytes]:
    """The codes of ``codes`` that have no artifact of ``backend`` in ``directory`` yet."""
    from evmkiln.context.artifact_store import artifact_path, code_hash

    suffix = backend.artifact_suffix
    return [c for c in codes if not artifact_path(directory, code_hash(c), suffix).exists()]


@dataclass(frozen=True, slots=True)
class CompileJob:
    """What every compile worker needs besides the code (picklable)."""

    backend: str
    directory: str
    fork: str = FORK
    options: CompileOptions | None = None
    """``None``: the defaults, which is what ``make_vm_class`` without options uses."""


@cache
def _aot_backend(name: str) -> AotBackend:
    """One backend object per worker process: importing and setting up a backend is slow."""
    from evmkiln.context.artifact_store import require_aot
    from evmkiln.context.registry import get_backend

    return require_aot(get_backend(name))


def _compile_one(job: CompileJob, code: bytes) -> CompiledArtifact:
    """Runs in a worker process: compile one code into the artifacts directory."""
    from evmkiln.codegen.backend import CompileOptions
    from evmkiln.context.artifact_store import compile_artifacts

    options = job.options if job.options is not None else CompileOptions()
    (result,) = compile_artifacts(
        _aot_backend(job.backend), [code], job.directory, fork=job.fork, options=options
    )
    return result


@dataclass(slots=True)
class CompileSummary:
    """What the compile step did."""

    contracts: int = 0
    """Distinct codes of the selection."""
    reused: int = 0
    """Codes whose artifact was already in the directory."""
    compiled: int = 0
    failed: list[tuple[bytes, str]] = field(default_factory=list)
    """Code hash and reason of each code that did not compile."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "contracts": self.contracts,
            "reused": self.reused,
            "compiled": self.compiled,
            "failed": len(self.failed),
            "compile_seconds": round(self.seconds, 3),
        }


def compile_in_parallel(
    job: CompileJob,
    codes: list[bytes],
    jobs: int,
    on_done: Callable[[CompiledArtifact], None] | None = None,
) -> list[CompiledArtifact]:
    """Compile ``codes`` into ``job.directory`` on ``jobs`` processes (results in completion order).

    A code that fails to compile, or whose worker process dies, is reported
    in its result, never raised: the run then shows what it means for the
    cases using it.
    """
    from evmkiln.context.artifact_store import CompiledArtifact, code_hash
    from evmkiln.statetest.pool import _context, _main_module_hidden

    Path(job.directory).mkdir(parents=True, exist_ok=True)
    results: list[CompiledArtifact] = []
    if not codes:
        return results
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(codes)), mp_context=_context())
    try:
        # Worker processes start on the first submit; see _main_module_hidden for why
        # they must not re-run this process's __main__.
        with _main_module_hidden():
            pending: dict[Future[CompiledArtifact], bytes] = {
                executor.submit(_compile_one, job, code): code for code in codes
            }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                code = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died (a crash in the compiler)
                    result = CompiledArtifact(code_hash(code), None, f"{type(exc).__name__}: {exc}")
                results.append(result)
                if on_done is not None:
                    on_done(result)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return results


def prepare_artifacts(
    job: CompileJob,
    cases: Iterable[CaseRef],
    jobs: int,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[CompiledArtifact], None] | None = None,
) -> CompileSummary:
    """Compile every code of ``cases`` that has no artifact in ``job.directory`` yet.

    ``on_start(n)`` is told how many codes will be compiled (to size a
    progress bar), ``on_done`` is called as each finishes.
    """
    start = time.monotonic()
    codes = selection_codes(cases)
    todo = missing_codes(codes, Path(job.directory), _aot_backend(job.backend))
    summary = CompileSummary(contracts=len(codes), reused=len(codes) - len(todo))
    if on_start is not None:
        on_start(len(todo))
    for result in compile_in_parallel(job, todo, jobs, on_done):
        if result.path is None:
            summary.failed.append((result.code_hash, result.error))
        else:
            summary.compiled += 1
    summary.seconds = time.monotonic() - start
    return summary
