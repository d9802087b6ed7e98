"""``bench --compile-samples``: each contract compiled that many times, the median reported."""

from __future__ import annotations

from typing import Any

from evmkiln.bench.compile_timing import CompileLog, TimedBackend
from evmkiln.codegen.backend import BackendCapabilities, CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode

CODE = bytes.fromhex("602a60005260206000f3")


class _Counting:
    """A backend that only counts compiles (the executable is never run here)."""

    name = "counting"

    def __init__(self, counts: list[str]) -> None:
        self.counts = counts

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(jit=True)

    def compile(self, function: Any, options: CompileOptions | None = None) -> Any:
        self.counts.append(function.name)
        return object()


def test_samples_compile_on_fresh_backends_and_keep_the_first_executable() -> None:
    counts: list[str] = []
    inner = _Counting(counts)
    made: list[_Counting] = []

    def fresh() -> Any:
        made.append(_Counting(counts))
        return made[-1]

    log = CompileLog(samples=5)
    timed = TimedBackend(inner, log, fresh)
    function = log.timed_lowering(CODE)
    executable = timed.compile(function)
    assert executable is not None
    assert len(counts) == 5 and len(made) == 4  # the first on inner, four on fresh ones
    (contract,) = log.contracts
    assert contract.samples == 5
    assert contract.compile_seconds is not None and contract.compile_seconds >= 0


def test_one_sample_compiles_once() -> None:
    counts: list[str] = []
    log = CompileLog()
    timed = TimedBackend(_Counting(counts), log, lambda: _Counting(counts))
    timed.compile(lower_bytecode(CODE))
    assert len(counts) == 1
    assert log.contracts[0].samples == 1
