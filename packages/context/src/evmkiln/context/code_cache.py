"""Compiled code by bytecode, and the counters of how frames were run.

The cache is keyed by the code bytes themselves: the bytes are at hand for
every frame and hashing them is what a dict does anyway, while a keccak would
cost a second pass.  Anything persistent (artifacts written to disk, shared
between processes) must key by the keccak code hash instead.  The persistent
code cache (:mod:`evmkiln.context.disk_cache`) is one optional collaborator,
:class:`PersistentCode`, asked before compiling and told after a compile.

Code that fails to lower or compile is remembered as such, counted, and run
by the interpreter; the failure text is kept for reports.  Where such a
fallback would hide a compiler bug (the conformance runner, the differential
tests) it is turned off and the failure raises :class:`CompileFailedError`.
Code the compiler declines on purpose (:class:`~evmkiln.codegen.budget.CompileRefused`,
such as code over its compile budget) is no bug: it is always interpreted,
and counted apart.

The cache holds at most ``max_entries`` codes and drops the least recently
used beyond that: a long-running process (a node replaying blocks, the
state-test workers) sees an unbounded number of distinct contracts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from evmkiln.codegen.backend import Backend, CompileOptions, Executable
from evmkiln.codegen.budget import CompileRefused
from evmkiln.context.artifact_store import AotRequiredError, code_hash

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function

Lowering = Callable[[bytes], "Function"]


def lower_with_pipeline(code: bytes, fork: str = "cancun") -> Function:
    """Lower EVM bytecode to an IR function with codegen's standard pipeline.

    ``fork`` chooses the opcode table (a byte that is an opcode in one fork
    is undefined in an earlier one).
    """
    from evmkiln.codegen.pipeline import lower_bytecode

    return lower_bytecode(code, fork=fork)


@dataclass(slots=True)
class DispatchStats:
    """How the frames of a VM class were executed."""

    frames_compiled: int = 0
    """Distinct codes compiled successfully."""
    frames_run_compiled: int = 0
    frames_interpreted: int = 0
    """Frames left to py-evm: precompiles, code that failed to compile, frames the
    computation class wants interpreted (``interpreted_for``), and messages without
    code under a tool's computation subclass."""
    frames_without_code: int = 0
    """Messages to an account without code (or creates with empty initcode), not to a
    precompile: settled at once, without the interpreter."""
    interpreted_for: dict[str, int] = field(default_factory=dict)
    """Frames with compiled code that ran on the interpreter because the computation
    class asked for it (a patched opcode, a tracer), by reason."""
    compile_failures: int = 0
    failures: dict[bytes, str] = field(default_factory=dict)
    """Why each code failed to compile, by code."""
    compile_refusals: int = 0
    """Distinct codes the compiler declined (over their compile budget): interpreted."""
    refusals: dict[bytes, str] = field(default_factory=dict)
    """Why each code was declined, by code."""
    aot_loaded: int = 0
    """Artifacts loaded: all of them when the VM class was made, or (``preload=False``)
    each at its code's first frame.  Kept by :meth:`reset`: they stay loaded."""
    frames_run_aot: int = 0
    """Frames run by code loaded from an artifact (also counted in ``frames_run_compiled``)."""
    cache_loaded: int = 0
    """Codes loaded from the persistent code cache instead of being compiled."""
    cache_stored: int = 0
    """Codes written to the persistent code cache."""
    cache_rejected: int = 0
    """Persistent cache entries refused on load (corrupt or mismatched): recompiled."""
    cache_store_failures: int = 0
    """Writes to the persistent code cache that failed (the code still ran compiled)."""

    def reset(self) -> None:
        self.frames_compiled = 0
        self.frames_run_compiled = 0
        self.frames_run_aot = 0
        self.frames_interpreted = 0
        self.frames_without_code = 0
        self.interpreted_for.clear()
        self.compile_failures = 0
        self.failures.clear()
        self.compile_refusals = 0
        self.refusals.clear()
        self.cache_loaded = 0
        self.cache_stored = 0
        self.cache_rejected = 0
        self.cache_store_failures = 0


DEFAULT_MAX_ENTRIES = 4096


class PersistentCode(Protocol):
    """Compiled code kept across processes (:class:`~evmkiln.context.disk_cache.DiskCache`)."""

    def lookup(self, code: bytes) -> Executable | None:
        """Code compiled by an earlier process, or ``None``; never raises for a bad entry."""
        ...

    def store(self, code: bytes, function: Function | Callable[[], Function]) -> None:
        """Keep ``code`` (lowered to ``function``, just compiled) for later processes.

        ``function`` may be a callable that lowers the code when it is needed,
        for a caller that compiled without lowering in this process.
        """
        ...

    def refusal(self, code: bytes) -> str | None:
        """Why an earlier process gave up compiling ``code`` for good, or ``None``."""
        ...

    def remember_refusal(self, code: bytes, reason: str) -> None:
        """Keep for later processes that compiling ``code`` is given up (never raises)."""
        ...


class CompileFailedError(Exception):
    """Code could not be lowered or compiled and the interpreter fallback is off."""


class CodeCache:
    """Compiles each distinct code once and hands out its executable.

    ``artifacts`` (executables loaded ahead of time, by keccak code hash) are
    consulted before compiling; the hash is computed once per distinct code.
    With ``strict`` set, code without an artifact raises
    :class:`~evmkiln.context.artifact_store.AotRequiredError` instead of
    being compiled.
    """

    __slots__ = (
        "_entries",
        "aot_codes",
        "artifacts",
        "backend",
        "fallback",
        "lower",
        "max_entries",
        "options",
        "persistent",
        "stats",
        "strict",
    )

    def __init__(
        self,
        backend: Backend,
        options: CompileOptions,
        stats: DispatchStats,
        lower: Lowering = lower_with_pipeline,
        *,
        artifacts: Mapping[bytes, Executable] | None = None,
        strict: bool = False,
        fallback: bool = True,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        persistent: PersistentCode | None = None,
    ) -> None:
        self.backend = backend
        self.options = options
        self.stats = stats
        self.lower = lower
        self.artifacts: Mapping[bytes, Executable] = artifacts or {}
        self.strict = strict
        self.fallback = fallback
        if max_entries < 1:
            raise ValueError("the code cache needs room for at least one code")
        self.max_entries = max_entries
        self.aot_codes: set[bytes] = set()
        """Codes whose executable came from an artifact."""
        self._entries: dict[bytes, Executable | None] = {}
        self.persistent = persistent
        """Consulted before compiling, given what compiled (see :class:`PersistentCode`)."""

    counts_gas = False
    """Blocking mode compiles on first sight: frames' gas decides nothing."""

    def __len__(self) -> int:
        return len(self._entries)

    def charge(self, code: bytes, gas: int) -> None:
        """Nothing: only a tiered cache counts gas (the VM does not call this one)."""

    def get(self, code: bytes) -> Executable | None:
        """The executable for ``code``, compiling it on first sight; None if it cannot compile."""
        entries = self._entries
        try:
            hit = entries.pop(code)
        except KeyError:
            pass
        else:
            entries[code] = hit  # most recently used last
            return hit
        if len(entries) >= self.max_entries:
            try:
                oldest = next(iter(entries))
                del entries[oldest]
            except (RuntimeError, KeyError, StopIteration):
                # Threads sharing the VM class changed the cache meanwhile: one of them
                # evicted (the cache may hold one more entry until the next miss).
                pass
            else:
                self.aot_codes.discard(oldest)
        if self.artifacts or self.strict:
            preloaded = self.artifacts.get(code_hash(code))
            if preloaded is not None:
                self.aot_codes.add(code)
                self._entries[code] = preloaded
                return preloaded
            if self.strict:
                raise AotRequiredError(
                    f"no artifact for code 0x{code_hash(code).hex()} ({len(code)} bytes) "
                    "and strict_aot forbids compiling it"
                )
        if self.persistent is not None:
            cached = self.persistent.lookup(code)
            if cached is not None:
                self._entries[code] = cached
                return cached
        executable = self.compile_code(code)
        self._entries[code] = executable
        return executable

    def compile_code(self, code: bytes) -> Executable | None:
        """Lower and compile ``code``: the one way code becomes an executable here.

        Failures are counted and give ``None`` (interpret), or raise
        :class:`CompileFailedError` when the fallback is off.
        """
        executable: Executable | None
        try:
            function = self.lower(code)
            executable = self.backend.compile(function, self.options)
        except CompileRefused as exc:  # declined on purpose: interpreted, never raised
            executable = None
            self.stats.compile_refusals += 1
            self.stats.refusals[code] = str(exc)
        except Exception as exc:  # any compiler failure falls back to the interpreter
            executable = None
            self.stats.compile_failures += 1
            reason = f"{type(exc).__name__}: {exc}"
            self.stats.failures[code] = reason
            if not self.fallback:
                raise CompileFailedError(
                    f"code 0x{code_hash(code).hex()} ({len(code)} bytes) failed to compile: "
                    f"{reason}"
                ) from exc
        else:
            self.stats.frames_compiled += 1
            if self.persistent is not None:
                self.persistent.store(code, function)
        return executable
