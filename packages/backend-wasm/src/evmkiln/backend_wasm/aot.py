"""Ahead-of-time artifacts: a contract's module compiled by wasmtime, serialized, loaded back.

JIT compilation of a contract runs the translator, the encoder and then
Cranelift (``wasmtime.Module(engine, wasm)``), milliseconds to a second for a
large contract.  An artifact keeps Cranelift's output: ``Module.serialize()``
at compile time, ``Module.deserialize`` at load time, which maps the machine
code without translating, encoding or compiling anything (tens of
microseconds).

Loading trusts nothing it has not checked.  wasmtime's deserialization is
unsafe on untrusted bytes: it verifies that the module was built by the same
wasmtime with a compatible engine, not that the machine code is intact.  So
the metadata is parsed and validated first, compared field by field with this
process (:mod:`evmkiln.backend_wasm.artifact_meta`), and the module file's
size and SHA-256 are checked on the very bytes then handed to
``Module.deserialize`` (not re-read from the path, which could change in
between).  Whatever wasmtime still refuses is reported as an
:class:`~evmkiln.codegen.artifact_errors.ArtifactError` too, and the module's
import and exports are checked against the runtime's before any instance is
made.  As with the LLVM backend, this guards against corruption and stale
builds; an artifacts directory is code, to be trusted like any other code.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import wasmtime

from evmkiln.backend_wasm.artifact_meta import (
    CHECKED_FIELDS,
    EXPORTS,
    FORMAT_VERSION,
    HOST_IMPORT,
    SUFFIX_META,
    SUFFIX_MODULE,
    ArtifactMetadata,
    expected_fields,
    memory_mode_of,
)
from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.layout import memory_base
from evmkiln.backend_wasm.runtime import (
    COMPILE_JOB,
    MEMORY_MODE,
    MEMORY_MODE_ENV,
    CompiledContract,
    compiler_process,
    engine,
    native_stack_reason,
)
from evmkiln.backend_wasm.tiering import TieredRun
from evmkiln.backend_wasm.translate import translate_for
from evmkiln.codegen import artifact_files
from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.artifact_files import ELF_MAGIC, ArtifactFiles, artifact_stem
from evmkiln.codegen.backend import CompileOptions, LoadedArtifact
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess
from evmkiln.codegen.ir.function import Function

FILES = ArtifactFiles(
    model=ArtifactMetadata,
    format_version=FORMAT_VERSION,
    meta_suffix=SUFFIX_META,
    payload_suffix=SUFFIX_MODULE,
    payload="module",
    magic=ELF_MAGIC,  # wasmtime serializes a compiled module as an ELF image
    not_magic="not a serialized wasmtime module",
)

_ENGINE_REFUSALS = ("compiled with", "not enabled for the host", "version", "incompatible")
"""Phrases of wasmtime's refusals that describe a build mismatch rather than damage."""


class WasmArtifactExecutable(TieredRun):
    """A contract loaded as machine code: runs exactly like a JIT-compiled one.

    It shares the runtime (instance pool, host handler, resets) with
    :class:`~evmkiln.backend_wasm.backend.WasmExecutable` but has no wasm
    binary or text to show: only the machine code was stored (an artifact,
    or a runtime's background compile; the latter's fast-tier code tiers up,
    see :mod:`.tiering`).
    """

    def __init__(self, name: str, contract: CompiledContract) -> None:
        self.name = name
        self.contract = contract

    def declines(self, depth: int | None = None) -> str | None:
        """As :meth:`~evmkiln.backend_wasm.backend.WasmExecutable.declines`."""
        return native_stack_reason(depth)


def build_module(function: Function, options: CompileOptions) -> tuple[bytes, int, int]:
    """``function`` compiled by wasmtime: (serialized module, memory base, wasm size)."""
    translation = translate_for(function, options)
    wasm = encode_module(translation.module)
    serialized = _compiler().call(COMPILE_JOB, wasm, False)
    return bytes(serialized), translation.memory_base, len(wasm)


AOT_LIMITS = CompileLimits(seconds=900.0)


@cache
def _compiler() -> CompilerProcess:
    """Cranelift runs in a compiler process here too: a crash there fails one artifact."""
    return compiler_process(AOT_LIMITS)


def save(
    function: Function,
    directory: Path,
    *,
    code_hash: bytes,
    fork: str,
    options: CompileOptions,
) -> Path:
    """Write ``<hash>.wasm.cwasm`` and ``<hash>.wasm.json`` into ``directory``; return the JSON."""
    stem = artifact_stem(code_hash)
    serialized, base, wasm_size = build_module(function, options)
    fields = {
        **expected_fields(fork, options),
        "name": function.name,
        "code_size": len(function.code),
        "memory_base": base,
        "wasm_size": wasm_size,
    }
    return FILES.save(directory, stem, serialized, fields)


def read_metadata(path: Path) -> ArtifactMetadata:
    """Parse and validate an artifact's metadata file (:class:`ArtifactCorruptError` if not)."""
    meta = FILES.read_metadata(path)
    _check_layout(path, meta)
    return meta


def _check_layout(path: Path, meta: ArtifactMetadata) -> None:
    """The recorded memory base is the one this layout gives the code's size.

    Only meaningful for an artifact of this compiler: another version's layout
    may place the base elsewhere, and is refused as a mismatch first.
    """
    if meta.memory_base != memory_base(meta.code_size):
        raise ArtifactCorruptError(
            path, f"memory_base {meta.memory_base} does not fit code_size {meta.code_size}"
        )


def check_compatible(
    path: Path, meta: ArtifactMetadata, fork: str, options: CompileOptions
) -> None:
    """Raise :class:`ArtifactMismatchError` naming the first field that differs.

    A different memory mode is reported as such (``engine.memory``), before
    the rest of the engine is compared: it is the one engine difference a
    process meets on the same machine (run with or without ``ulimit -v``).
    """
    expected = expected_fields(fork, options)
    at = CHECKED_FIELDS.index("engine")
    artifact_files.check_compatible(path, meta, expected, CHECKED_FIELDS[:at])
    built_for = memory_mode_of(meta.engine.settings)
    if built_for != MEMORY_MODE:
        raise ArtifactMismatchError(path, "engine.memory", built_for, _running_mode())
    artifact_files.check_compatible(path, meta, expected, CHECKED_FIELDS[at:])


def _running_mode() -> str:
    """This process's memory mode and what chose it, for a refusal's message."""
    chosen = os.environ.get(MEMORY_MODE_ENV, "").strip()
    if chosen and chosen.lower() != "auto":
        why = f"{MEMORY_MODE_ENV}={chosen}"
    else:
        why = "address space limited" if MEMORY_MODE == "compact" else "no address-space limit"
        why += f"; {MEMORY_MODE_ENV} overrides"
    return f"{MEMORY_MODE} ({why})"


def _deserialize(module_path: Path, data: bytes) -> wasmtime.Module:
    """``Module.deserialize`` of checked bytes; wasmtime's refusals as artifact errors."""
    try:
        return wasmtime.Module.deserialize(engine(), data)
    except wasmtime.WasmtimeError as exc:
        message = str(exc).strip().splitlines()[0]
        if any(phrase in message for phrase in _ENGINE_REFUSALS):
            raise ArtifactMismatchError(
                module_path, "wasmtime_engine", message, "this process's engine"
            ) from None
        raise ArtifactCorruptError(module_path, f"wasmtime refused it: {message}") from None


def _check_interface(module_path: Path, module: wasmtime.Module) -> None:
    """The module imports exactly ``host(i32) -> i32`` and exports what the runtime uses."""
    imports: list[tuple[object, ...]] = []
    for item in module.imports:
        ty = item.type
        if isinstance(ty, wasmtime.FuncType):
            params = tuple(str(t) for t in ty.params)
            results = tuple(str(t) for t in ty.results)
            imports.append((item.module, item.name, params, results))
        else:
            imports.append((item.module, item.name, type(ty).__name__))
    if imports != [HOST_IMPORT]:
        raise ArtifactCorruptError(module_path, f"module imports {imports}, not {[HOST_IMPORT]}")
    exports = {item.name: item.type for item in module.exports}
    if not isinstance(exports.get("memory"), wasmtime.MemoryType) or not isinstance(
        exports.get("run"), wasmtime.FuncType
    ):
        raise ArtifactCorruptError(
            module_path, f"module exports {sorted(exports)}, needs {list(EXPORTS)}"
        )


def load(path: Path, *, fork: str, options: CompileOptions) -> LoadedArtifact:
    """Check the artifact whose metadata is at ``path`` and deserialize it; never compiles."""
    meta = FILES.read_metadata(path)
    # Compatibility first: an artifact of an earlier version (another layout) is
    # to be recompiled, not reported as corrupt.
    check_compatible(path, meta, fork, options)
    _check_layout(path, meta)
    module_path, data = FILES.read_payload(path, meta.module, meta.module_size, meta.module_sha256)
    module = _deserialize(module_path, data)
    _check_interface(module_path, module)
    executable = WasmArtifactExecutable(meta.name, CompiledContract(module, meta.memory_base))
    return LoadedArtifact(bytes.fromhex(meta.code_hash[2:]), executable)


__all__ = [
    "WasmArtifactExecutable",
    "build_module",
    "check_compatible",
    "expected_fields",
    "load",
    "read_metadata",
    "save",
]
