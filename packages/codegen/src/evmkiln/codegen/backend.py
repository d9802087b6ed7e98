"""The protocol every backend implements.

A backend turns one IR function (the lowering of one contract's bytecode) into
an :class:`Executable`.  Running an executable on a :class:`Frame` either
returns how the frame ended normally (:class:`ExitKind`, with the output left in
``frame.output``) or raises :class:`~evmkiln.builtins.halts.ExceptionalHalt`.
Gas left, refunds and memory are read back from the frame by the caller; a
frame with ``keep_memory`` off (the dispatching VM's) may be left with an
empty ``frame.memory`` instead of a copy of the final one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    from evmkiln.builtins.frame import Frame
    from evmkiln.codegen.ir.function import Function


class ExitKind(enum.IntEnum):
    """How a frame ended without an exceptional halt."""

    STOP = 0
    RETURN = 1
    REVERT = 2
    SELFDESTRUCT = 3

    @property
    def is_success(self) -> bool:
        return self is not ExitKind.REVERT


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """Options every backend understands (backends may ignore what they cannot use)."""

    opt_level: int = 2
    gas_metering: bool = True
    """Off only for trusted re-execution; the conformance runner never turns it off."""
    extra: dict[str, object] = field(default_factory=dict)
    """Further options, recorded in artifacts and cache keys like the others (see
    :data:`TRACE_PREIMAGES`)."""

    def __post_init__(self) -> None:
        # Checked here, not at the first compile: a bad option given to make_vm_class
        # would otherwise fail every compile, and every contract would quietly run
        # on the interpreter.
        if type(self.opt_level) is not int or not 0 <= self.opt_level <= 3:
            raise ValueError(f"opt_level must be an integer from 0 to 3, not {self.opt_level!r}")
        if type(self.gas_metering) is not bool:
            raise ValueError(f"gas_metering must be True or False, not {self.gas_metering!r}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, not {type(self.extra).__name__}")


TRACE_PREIMAGES = "trace_preimages"
"""``extra`` option: every KECCAK256 reports its input to the frame's
``on_keccak`` hook (tools that name storage keys by their preimages, as
titanoboa's storage dumps do).  Native backends then run KECCAK256 through the
host's builtin instead of their own code: a crossing per hash."""


def traces_preimages(options: CompileOptions) -> bool:
    """Whether ``options`` ask for a tracing compile of KECCAK256 (:data:`TRACE_PREIMAGES`)."""
    return bool(options.extra.get(TRACE_PREIMAGES, False))


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    """What a backend supports, reported to tools and to the dispatching context."""

    jit: bool = True
    aot: bool = False
    gas_metering_off: bool = False
    native: bool = False


@runtime_checkable
class Executable(Protocol):
    """Compiled code for one contract.

    An executable may also offer ``declines(depth) -> str | None``: asked by a
    dispatcher that can run the frame on an interpreter instead, just before
    it would ``run`` one (at call depth ``depth``), it gives a reason not to
    run it now (``None``: run it).  The wasm backend declines frames its
    thread has too little native stack for, rather than moving them to a
    thread of its own.
    """

    def run(self, frame: Frame) -> ExitKind:
        """Execute from pc 0 on ``frame``; raise ``ExceptionalHalt`` on an exceptional halt."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A code generator from evmkiln IR to something runnable."""

    name: str

    def capabilities(self) -> BackendCapabilities:
        """Report what this backend supports."""
        ...

    def compile(self, function: Function, options: CompileOptions | None = None) -> Executable:
        """Compile a verified IR function into an executable."""
        ...


@dataclass(frozen=True, slots=True)
class LoadedArtifact:
    """An executable read from disk, and the keccak hash of the code it runs."""

    code_hash: bytes
    executable: Executable


@runtime_checkable
class AotBackend(Backend, Protocol):
    """A backend that can also write compiled code to disk and load it back.

    Optional: the context checks for it only when asked to use artifacts.
    Artifacts are keyed by the keccak hash of the code (the cache of a
    running VM keys by the bytes; anything shared between processes cannot).
    ``load`` must not invoke the compiler, and must refuse with
    :class:`~evmkiln.codegen.artifact_errors.ArtifactError` an artifact that is
    corrupt or was built for another fork, compiler, options or machine.
    """

    artifact_suffix: str
    """Ending of the file that :meth:`save` returns, how a directory's artifacts are found."""

    def save(
        self,
        function: Function,
        directory: Path,
        *,
        code_hash: bytes,
        fork: str,
        options: CompileOptions | None = None,
    ) -> Path:
        """Compile ``function`` into ``directory``; return the artifact's path."""
        ...

    def load(
        self, path: Path, *, fork: str, options: CompileOptions | None = None
    ) -> LoadedArtifact:
        """Load the artifact at ``path`` (as returned by :meth:`save`) without compiling."""
        ...


WARM_UP_CODE = bytes.fromhex("60003560010160005260206000f3")
"""``RETURN(calldataload(0) + 1)``: what a backend's optional ``warm_up()`` compiles.

Small, but it touches a builtin, arithmetic and memory, so compiling it pays
a code generator's one-time set-up (see docs/writing-a-backend.md)."""


class AotModule(Protocol):
    """The ``save`` and ``load`` functions of a backend's artifact module (a module is one)."""

    def save(
        self,
        function: Function,
        directory: Path,
        *,
        code_hash: bytes,
        fork: str,
        options: CompileOptions,
    ) -> Path: ...

    def load(self, path: Path, *, fork: str, options: CompileOptions) -> LoadedArtifact: ...

    def expected_fields(self, fork: str, options: CompileOptions) -> dict[str, object]: ...


@runtime_checkable
class KeyedArtifacts(Protocol):
    """An :class:`AotBackend` that can say what its artifacts are keyed by, without building one.

    Optional.  The persistent code cache (:mod:`evmkiln.context.disk_cache`)
    files artifacts under a digest of these fields so that code built for
    another fork, compiler, option set or CPU is simply another key, never
    found, rather than a refusal at every lookup.
    """

    def artifact_fields(
        self, fork: str, options: CompileOptions | None = None
    ) -> dict[str, object]:
        """The metadata fields an artifact built here must carry to be loadable here."""
        ...


class DelegatesArtifacts:
    """:class:`AotBackend`'s ``save`` and ``load``, for a backend class, with default options.

    Both go to the module returned by :meth:`_aot`, which imports it on first
    use: a backend used only for JIT never imports its artifact code.
    """

    def _aot(self) -> AotModule:
        raise NotImplementedError

    def save(
        self,
        function: Function,
        directory: Path,
        *,
        code_hash: bytes,
        fork: str,
        options: CompileOptions | None = None,
    ) -> Path:
        """Compile ``function`` and write its artifact into ``directory``; return its path."""
        return self._aot().save(
            function, directory, code_hash=code_hash, fork=fork, options=options or CompileOptions()
        )

    def load(
        self, path: Path, *, fork: str, options: CompileOptions | None = None
    ) -> LoadedArtifact:
        """Load a saved artifact without compiling; refuses stale or corrupt ones."""
        return self._aot().load(path, fork=fork, options=options or CompileOptions())

    def artifact_fields(
        self, fork: str, options: CompileOptions | None = None
    ) -> dict[str, object]:
        """What :meth:`load` compares with this process (:class:`KeyedArtifacts`)."""
        return self._aot().expected_fields(fork, options or CompileOptions())
