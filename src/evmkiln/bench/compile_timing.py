"""Timing each contract's compile apart from execution.

The dispatching VM compiles a contract the first time one of its frames runs,
inside the transaction.  To report compile time separately, the benchmark
hands ``make_vm_class`` a lowering function and a backend that time
themselves: ``lower`` is bytecode to verified IR, ``compile`` is the backend's
IR to executable (for ``llvm``: LLVM IR generation, optimisation and MCJIT
code emission, i.e. the JIT compile).  Both run within the first (warm-up)
transaction, which is therefore never one of the timed samples.

One compile is one sample, and a first compile is noisy (page faults,
caches, whatever else the machine does).  With ``samples`` above 1
(``bench --compile-samples``) each contract is lowered and compiled that many
times, the extra compiles on fresh backend instances so that no cache
answers them, and the median is reported.

With an artifacts directory (``bench --artifacts``) contracts are loaded,
not compiled: each load is timed (it happens at the contract's first frame,
in the warm-up run as well) and the VM class's counters say how many frames
ran from artifacts.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evmkiln.codegen.backend import Backend, BackendCapabilities, CompileOptions, Executable

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function
    from evmkiln.context.code_cache import DispatchStats


@dataclass(slots=True)
class ContractCompile:
    """One contract's compile: the IR function's name identifies the code (keccak prefix)."""

    function: str
    code_size: int
    lower_seconds: float
    compile_seconds: float | None = None
    """``None`` when lowering failed or the backend raised (the code was then interpreted)."""
    samples: int = 1
    """How many lowerings and compiles the two medians above are taken over."""


@dataclass(frozen=True, slots=True)
class ArtifactLoad:
    """One contract loaded from an artifact instead of compiled."""

    code_hash: bytes
    seconds: float


@dataclass(slots=True)
class CompileLog:
    """Every compile (and artifact load) of one VM class, in order."""

    contracts: list[ContractCompile] = field(default_factory=list)
    loads: list[ArtifactLoad] = field(default_factory=list)
    dispatch: DispatchStats | None = None
    """The VM class's counters, kept when it runs with artifacts (frames run from them)."""
    samples: int = 1
    """Lowerings and compiles per contract; the median is kept."""
    _pending: dict[str, ContractCompile] = field(default_factory=dict)
    _busy_since: float | None = None
    """When the lowering or compile under way started (``None`` when idle)."""

    @property
    def lower_seconds(self) -> float:
        return sum(c.lower_seconds for c in self.contracts)

    @property
    def compile_seconds(self) -> float:
        return sum(c.compile_seconds or 0.0 for c in self.contracts)

    @property
    def total_seconds(self) -> float:
        return self.lower_seconds + self.compile_seconds

    def seconds_so_far(self) -> float:
        """Compile time spent until now, including a lowering or compile still running.

        The time budget does not count compiling: a contract that takes long to
        JIT-compile must not cost the engine its timed runs.
        """
        running = 0.0 if self._busy_since is None else time.perf_counter() - self._busy_since
        return self.total_seconds + running

    @contextmanager
    def busy(self) -> Iterator[float]:
        """Mark a lowering or compile as under way; yields its start time."""
        self._busy_since = start = time.perf_counter()
        try:
            yield start
        finally:
            self._busy_since = None

    def timed_lowering(self, code: bytes, fork: str = "cancun") -> Function:
        """``lower_bytecode`` (for ``fork``'s opcodes) with its duration recorded under the
        function's name."""
        from evmkiln.codegen.pipeline import lower_bytecode

        with self.busy() as start:
            function = lower_bytecode(code, fork=fork)
            seconds = [time.perf_counter() - start]
            for _ in range(self.samples - 1):
                again = time.perf_counter()
                lower_bytecode(code, fork=fork)
                seconds.append(time.perf_counter() - again)
        entry = ContractCompile(
            function.name, len(code), statistics.median(seconds), samples=self.samples
        )
        self.contracts.append(entry)
        self._pending[function.name] = entry
        return function

    def record_load(self, code_hash: bytes, seconds: float) -> None:
        """``make_vm_class(on_artifact_load=)``: an artifact was loaded at its first frame."""
        self.loads.append(ArtifactLoad(code_hash, seconds))

    def record_compile(self, function_name: str, seconds: float) -> None:
        entry = self._pending.pop(function_name, None)
        if entry is None:  # compiled without going through timed_lowering
            entry = ContractCompile(function_name, 0, 0.0, samples=self.samples)
            self.contracts.append(entry)
        entry.compile_seconds = seconds


class TimedBackend:
    """A backend that forwards to ``inner`` and logs how long each ``compile`` took.

    ``fresh`` makes a new instance of the same backend, for the extra samples
    of ``log.samples``: the executable run is always ``inner``'s first one.
    """

    def __init__(
        self, inner: Backend, log: CompileLog, fresh: Callable[[], Backend] | None = None
    ) -> None:
        self.inner = inner
        self.log = log
        self.name = inner.name
        self.fresh = fresh

    def capabilities(self) -> BackendCapabilities:
        return self.inner.capabilities()

    def __getattr__(self, name: str) -> Any:
        """The rest of the inner backend's interface: an AOT backend's ``artifact_suffix``,
        ``save`` and ``load``, so that the wrapper is an ``AotBackend`` exactly when it is."""
        if name == "inner":  # not set yet (copy, unpickling): do not recurse
            raise AttributeError(name)
        return getattr(self.inner, name)

    def compile(self, function: Function, options: CompileOptions | None = None) -> Executable:
        with self.log.busy() as start:
            executable = self.inner.compile(function, options)
            seconds = [time.perf_counter() - start]
            for _ in range(self.log.samples - 1 if self.fresh is not None else 0):
                assert self.fresh is not None
                backend = self.fresh()
                again = time.perf_counter()
                backend.compile(function, options)
                seconds.append(time.perf_counter() - again)
        self.log.record_compile(function.name, statistics.median(seconds))
        return executable
