"""Timing each contract's compile apart from execution.

The dispatching VM compiles a contract the first time one of its frames runs,
inside the transaction.  To report compile time separately, the benchmark
hands ``make_vm_class`` a lowering function and a backend that time
themselves: ``lower`` is bytecode to verified IR, ``compile`` is the backend's
IR to executable (for ``llvm``: LLVM IR generation, optimisation and MCJIT
code emission, i.e. the JIT compile).  Both run within the first (warm-up)
transaction, which is therefore never one of the timed samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evmkiln.codegen.backend import Backend, BackendCapabilities, CompileOptions, Executable

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function


@dataclass(slots=True)
class ContractCompile:
    """One contract's compile: the IR function's name identifies the code (keccak prefix)."""

    function: str
    code_size: int
    lower_seconds: float
    compile_seconds: float | None = None
    """``None`` when lowering failed or the backend raised (the code was then interpreted)."""


@dataclass(slots=True)
class CompileLog:
    """Every compile of one VM class, in order."""

    contracts: list[ContractCompile] = field(default_factory=list)
    _pending: dict[str, ContractCompile] = field(default_factory=dict)

    @property
    def lower_seconds(self) -> float:
        return sum(c.lower_seconds for c in self.contracts)

    @property
    def compile_seconds(self) -> float:
        return sum(c.compile_seconds or 0.0 for c in self.contracts)

    @property
    def total_seconds(self) -> float:
        return self.lower_seconds + self.compile_seconds

    def timed_lowering(self, code: bytes) -> Function:
        """``lower_bytecode`` with its duration recorded under the function's name."""
        from evmkiln.codegen.pipeline import lower_bytecode

        start = time.perf_counter()
        function = lower_bytecode(code)
        entry = ContractCompile(function.name, len(code), time.perf_counter() - start)
        self.contracts.append(entry)
        self._pending[function.name] = entry
        return function

    def record_compile(self, function_name: str, seconds: float) -> None:
        entry = self._pending.pop(function_name, None)
        if entry is None:  # compiled without going through timed_lowering
            entry = ContractCompile(function_name, 0, 0.0)
            self.contracts.append(entry)
        entry.compile_seconds = seconds


class TimedBackend:
    """A backend that forwards to ``inner`` and logs how long each ``compile`` took."""

    def __init__(self, inner: Backend, log: CompileLog) -> None:
        self.inner = inner
        self.log = log
        self.name = inner.name

    def capabilities(self) -> BackendCapabilities:
        return self.inner.capabilities()

    def compile(self, function: Function, options: CompileOptions | None = None) -> Executable:
        start = time.perf_counter()
        executable = self.inner.compile(function, options)
        self.log.record_compile(function.name, time.perf_counter() - start)
        return executable
