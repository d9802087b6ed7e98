"""Whole compiles in a compiler process: bytecode in, loadable machine code out.

A backend's ``compile`` takes an IR function, so whoever calls it has
lowered the bytecode first, in its own process.  Lowering is Python: it holds
the GIL for milliseconds to a tenth of a second per contract (about 5 us per
byte of code), which is time taken from the frames a runtime keeps running on
a lower tier meanwhile.  A backend that implements
:class:`BackgroundBackend` names a compile job that starts from the bytecode
(lowering, IR passes, translation, the backend's own optimisation and code
generation, all in a :class:`~evmkiln.codegen.compiler_process.CompilerProcess`)
and returns a :class:`CompiledCode`; :meth:`BackgroundBackend.load_compiled`
turns that into an executable in the calling process without compiling
anything (LLVM: link an object file; wasm: deserialize a module).  So the
caller's only costs are the pipe and the load.

The payload comes from this process's own child, built by the same code, and
is trusted like in-process machine code; artifacts read from disk are the
ones that need checking (:mod:`evmkiln.codegen.artifact_files`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from evmkiln.codegen.backend import Backend, CompileOptions, Executable

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function

PHASES = ("lowering", "passes", "translate", "backend", "load")
"""Compile phases timed separately (seconds), in order.

``lowering``: bytecode analysis and lowering to IR (budget checks included);
``passes``: evmkiln's IR passes and verification, plus a backend's own IR
optimisation where it has one apart from code generation (LLVM's pass
pipeline); ``translate``: IR to the backend's input (LLVM IR text, a wasm
module); ``backend``: code generation (LLVM's code generator, Cranelift);
``load``: turning the result into an executable in the calling process."""


@dataclass(frozen=True, slots=True)
class CompiledCode:
    """What a background compile job returns: machine code, and how to load it."""

    name: str
    """The function's symbol (``evm_<hash prefix>``)."""
    payload: bytes
    """Object file, serialized module: whatever the backend's loader takes."""
    meta: Mapping[str, object] = field(default_factory=dict)
    """Backend-specific values the loader needs (picklable)."""
    phases: Mapping[str, float] = field(default_factory=dict)
    """Seconds per phase of :data:`PHASES` spent in the compiler process."""

    @property
    def nbytes(self) -> int:
        """The size a code cache charges for this code (the machine code's size)."""
        return len(self.payload)


@runtime_checkable
class BackgroundBackend(Backend, Protocol):
    """A backend whose whole compile, lowering included, runs in a compiler process."""

    background_job: str
    """``"module:function"``: ``(code: bytes, fork: str, options: CompileOptions)``
    to :class:`CompiledCode`."""

    compiler_env: Mapping[str, str]
    """Environment the compiler process needs to build code this process can load."""

    def load_compiled(self, compiled: CompiledCode) -> Executable:
        """An executable from a :class:`CompiledCode` of :attr:`background_job`; never compiles.

        Safe to call from any thread."""
        ...


def lower_timed(code: bytes, fork: str, phases: dict[str, float]) -> Function:
    """Lower ``code`` as :func:`evmkiln.codegen.pipeline.lower_bytecode` does, timing its phases.

    The same steps in the same order (budget checks, lowering, level-1 IR
    passes, verification), split so that ``lowering`` and ``passes`` are
    reported apart.
    """
    from evmkiln.codegen.gc_pause import gc_paused
    from evmkiln.codegen.ir.verifier import verify
    from evmkiln.codegen.passes import run_passes
    from evmkiln.codegen.pipeline import lower_bytecode

    start = time.perf_counter()
    with gc_paused():
        function = lower_bytecode(code, fork=fork, opt_level=0, check=False)
        lowered = time.perf_counter()
        run_passes(function, 1)
        verify(function)
    phases["lowering"] = lowered - start
    phases["passes"] = time.perf_counter() - lowered
    return function


__all__ = ["PHASES", "BackgroundBackend", "CompileOptions", "CompiledCode", "lower_timed"]
