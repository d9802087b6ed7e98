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
"""

from __future__ import annotations

import hashlib
import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

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

CodeHash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.-]*$")]
"""A plain name in the metadata's directory: no separators, so never a path elsewhere."""


class ArtifactOptions(BaseModel):
    """The :class:`CompileOptions` an artifact was compiled with.

    The wasm backend only acts on ``gas_metering`` (Cranelift's level is an
    engine setting), but all options are recorded and compared, as for every
    backend: ``make_vm_class`` options must match the artifacts' exactly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    opt_level: int
    gas_metering: bool
    extra: dict[str, Any]

    @classmethod
    def of(cls, options: CompileOptions) -> ArtifactOptions:
        return cls(
            opt_level=options.opt_level,
            gas_metering=options.gas_metering,
            extra=dict(options.extra),
        )


class EngineConfig(BaseModel):
    """The wasmtime engine configuration the machine code was generated under.

    ``settings`` are the ``wasmtime.Config`` attributes the runtime sets
    (:data:`evmkiln.backend_wasm.runtime.ENGINE_SETTINGS`: wasm features such
    as wide arithmetic, ``cranelift_opt_level``, ``memory_may_move``);
    ``target`` is the host the engine compiles for (wasmtime's default, the
    native host with its detected CPU features, which wasmtime checks itself
    on deserialization); ``pulley`` is whether the engine is wasmtime's
    portable interpreter rather than Cranelift native code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    pulley: bool
    settings: dict[str, bool | int | str]


class ArtifactMetadata(BaseModel):
    """The JSON file of one artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int
    backend: Literal["wasm"]
    code_hash: CodeHash
    """Keccak-256 of the contract code, ``0x``-prefixed hex."""
    fork: str
    evmkiln_version: str
    compiler_fingerprint: str
    wasmtime_version: str
    engine: EngineConfig
    options: ArtifactOptions
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


@cache
def _package_version(name: str) -> str:
    """Cached: ``importlib.metadata`` scans the environment, a third of a millisecond."""
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


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
    """SHA-256 of the compiler's sources and of the module ABI.

    Package versions change on release only; in a working tree any edit to
    lowering, builtins, the translator or the encoder changes the generated
    module, so the sources themselves are hashed (once per process, a few
    milliseconds).
    """
    import evmkiln.backend_wasm as backend_pkg
    import evmkiln.builtins as builtins_pkg
    import evmkiln.codegen as codegen_pkg

    digest = hashlib.sha256()
    digest.update(repr(_abi()).encode())
    for package in (builtins_pkg, codegen_pkg, backend_pkg):
        root = Path(next(iter(package.__path__)))
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode() + b"\0")
            digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


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


def expected_fields(fork: str, options: CompileOptions) -> dict[str, object]:
    """The values of :data:`CHECKED_FIELDS` this process compiles for and can run."""
    return {
        "format_version": FORMAT_VERSION,
        "backend": "wasm",
        "fork": fork,
        "evmkiln_version": _package_version("evmkiln-backend-wasm"),
        "compiler_fingerprint": _fingerprint(),
        "wasmtime_version": _package_version("wasmtime"),
        "engine": engine_config(),
        "options": ArtifactOptions.of(options),
    }
