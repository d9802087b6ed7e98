"""What a wasm artifact was built for, and what the running process can run.

An artifact is two files named by the code hash: ``<hash>.wasm.json`` (this
metadata) and ``<hash>.wasm.cwasm``, the module as wasmtime serialized it
after compiling it to machine code (``Module.serialize``).  The metadata is a
separate file for the same reasons as the LLVM backend's: it is read and
checked before a single byte of the module is handed to wasmtime, and it stays
readable by tools that do not link wasmtime.

wasmtime's deserialization trusts its input (it maps machine code and runs it;
a flipped byte in a function body deserializes without complaint), so the
module is bound to the metadata by size and SHA-256, checked before
``Module.deserialize``.  wasmtime itself refuses modules built by another
wasmtime version, with other wasm features, or with CPU (ISA) flags the host
lacks; it does *not* compare the Cranelift optimisation level, and its refusals
come late and as free text.  So every field that decides whether the code fits
this process is also compared here first, field by field
(:func:`expected_fields`): fork, backend, evmkiln version, a fingerprint of
the compiler's sources and of the module ABI (linear-memory layout, builtin
ids, the import and exports), the wasmtime version, the engine configuration
that shapes machine code (target, features, opt level, memory settings), and
the compile options.

The memory settings follow the process's memory mode (``reserved`` without an
address-space limit, ``compact`` with one: :func:`~.runtime.memory_mode`), and
code compiled for one mode cannot run in the other (the bounds checks differ),
so an artifact built without a limit is refused by a process that has one.
That refusal names the modes (:func:`memory_mode_of`) rather than two dumps
of engine settings.
"""

from __future__ import annotations

import platform
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from evmkiln.codegen.artifact_files import (
    ArtifactMetadataBase,
    ArtifactOptions,
    FileName,
    Sha256,
    package_version,
    source_fingerprint,
)
from evmkiln.codegen.backend import CompileOptions

FORMAT_VERSION = 1
"""Bumped whenever the file layout or the meaning of a field changes."""

SUFFIX_META = ".wasm.json"
SUFFIX_MODULE = ".wasm.cwasm"

HOST_IMPORT = ("evmkiln", "host", ("i32",), ("i32",))
"""The module's one import: ``(module, name, params, results)``."""
EXPORTS = ("memory", "run")
"""What the runtime looks up in every instance."""

CHECKED_FIELDS = (
    "format_version",
    "backend",
    "fork",
    "evmkiln_version",
    "compiler_fingerprint",
    "wasmtime_version",
    "engine",
    "options",
)
"""Fields that must equal the running process's values, in the order they are checked."""


class EngineConfig(BaseModel):
    """The wasmtime engine configuration the machine code was generated under.

    ``settings`` are the ``wasmtime.Config`` attributes the runtime sets
    (:data:`evmkiln.backend_wasm.runtime.ENGINE_SETTINGS`: wasm features such
    as wide arithmetic, ``cranelift_opt_level``, the memory mode's
    reservation, guard size and ``memory_may_move``);
    ``target`` is the host the engine compiles for (wasmtime's default, the
    native host with its detected CPU features, which wasmtime checks itself
    on deserialization); ``pulley`` is whether the engine is wasmtime's
    portable interpreter rather than Cranelift native code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    pulley: bool
    settings: dict[str, bool | int | str]


class ArtifactMetadata(ArtifactMetadataBase):
    """The JSON file of one artifact."""

    backend: Literal["wasm"]
    wasmtime_version: str
    engine: EngineConfig
    options: ArtifactOptions
    """All compared; the backend acts on ``gas_metering`` only (Cranelift's level: ``engine``)."""
    name: str
    """The IR function's name (for reports)."""
    code_size: int
    """Length of the contract code: the jump table's size, hence ``memory_base``."""
    memory_base: int
    """Where EVM memory starts in linear memory (:func:`~.layout.memory_base`)."""
    module: FileName
    """File name of the serialized module, in the metadata's directory."""
    module_size: int
    module_sha256: Sha256
    wasm_size: int
    """Size of the wasm binary the module was compiled from (reports only)."""


def _abi() -> tuple[object, ...]:
    """Everything generated code and the Python runtime must agree on, outside the sources."""
    from evmkiln.backend_wasm import layout
    from evmkiln.backend_wasm.translate import BUILTIN_IDS

    constants = sorted(
        (name, value)
        for name, value in vars(layout).items()
        if name.isupper() and isinstance(value, int)
    )
    return (constants, sorted(BUILTIN_IDS.items()), HOST_IMPORT, EXPORTS)


@cache
def _fingerprint() -> str:
    """SHA-256 of the compiler's sources (translator and encoder included) and of the module ABI."""
    import evmkiln.backend_wasm as backend_pkg
    import evmkiln.builtins as builtins_pkg
    import evmkiln.codegen as codegen_pkg

    return source_fingerprint(_abi(), (builtins_pkg, codegen_pkg, backend_pkg))


def _target() -> str:
    """The host wasmtime compiles for by default: machine and operating system."""
    return f"{platform.machine().lower()}-{platform.system().lower()}"


@cache
def engine_config() -> EngineConfig:
    """The configuration of :func:`evmkiln.backend_wasm.runtime.engine` (creates the engine)."""
    from evmkiln.backend_wasm.runtime import ENGINE_SETTINGS, engine

    return EngineConfig(
        target=_target(), pulley=bool(engine().is_pulley()), settings=dict(ENGINE_SETTINGS)
    )


def memory_mode_of(settings: dict[str, bool | int | str]) -> str:
    """The memory mode whose settings ``settings`` carries, or a description of them."""
    from evmkiln.backend_wasm.runtime import MEMORY_MODES

    for mode, values in MEMORY_MODES.items():
        if all(settings.get(name) == value for name, value in values.items()):
            return mode
    found = {name: value for name, value in settings.items() if name.startswith("memory_")}
    return f"unknown memory settings {found}"


def expected_fields(fork: str, options: CompileOptions) -> dict[str, object]:
    """The values of :data:`CHECKED_FIELDS` this process compiles for and can run."""
    return {
        "format_version": FORMAT_VERSION,
        "backend": "wasm",
        "fork": fork,
        "evmkiln_version": package_version("evmkiln-backend-wasm"),
        "compiler_fingerprint": _fingerprint(),
        "wasmtime_version": package_version("wasmtime"),
        "engine": engine_config(),
        "options": ArtifactOptions.of(options),
    }
