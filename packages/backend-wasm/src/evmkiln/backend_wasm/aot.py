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

import hashlib
import os
import tempfile
from pathlib import Path

import wasmtime
from pydantic import ValidationError

from evmkiln.backend_wasm.artifact_meta import (
    CHECKED_FIELDS,
    EXPORTS,
    FORMAT_VERSION,
    HOST_IMPORT,
    SUFFIX_META,
    SUFFIX_MODULE,
    ArtifactMetadata,
    ArtifactOptions,
    EngineConfig,
    expected_fields,
)
from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.layout import memory_base
from evmkiln.backend_wasm.runtime import CompiledContract, engine
from evmkiln.backend_wasm.translate import translate
from evmkiln.builtins.frame import Frame
from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import CompileOptions, ExitKind, LoadedArtifact
from evmkiln.codegen.ir.function import Function

MAX_METADATA_BYTES = 1 << 16
"""Metadata is under a kilobyte; anything this large is not metadata."""

_ELF_MAGIC = b"\x7fELF"
"""wasmtime serializes a compiled module as an ELF image."""

_ENGINE_REFUSALS = ("compiled with", "not enabled for the host", "version", "incompatible")
"""Phrases of wasmtime's refusals that describe a build mismatch rather than damage."""


class WasmArtifactExecutable:
    """A contract loaded from an artifact: runs exactly like a JIT-compiled one.

    It shares the runtime (instance pool, host handler, resets) with
    :class:`~evmkiln.backend_wasm.backend.WasmExecutable` but has no wasm
    binary or text to show: only the machine code was stored.
    """

    def __init__(self, name: str, contract: CompiledContract) -> None:
        self.name = name
        self.contract = contract

    def run(self, frame: Frame) -> ExitKind:
        return self.contract.run(frame)


def build_module(function: Function, options: CompileOptions) -> tuple[bytes, int, int]:
    """``function`` compiled by wasmtime: (serialized module, memory base, wasm size)."""
    translation = translate(function, gas_metering=options.gas_metering)
    wasm = encode_module(translation.module)
    module = wasmtime.Module(engine(), wasm)
    return bytes(module.serialize()), translation.memory_base, len(wasm)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so readers see all of it or none."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would keep the artifact from other users
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    function: Function,
    directory: Path,
    *,
    code_hash: bytes,
    fork: str,
    options: CompileOptions,
) -> Path:
    """Write ``<hash>.wasm.cwasm`` and ``<hash>.wasm.json`` into ``directory``; return the JSON.

    The module is written first: the metadata is what loaders look for, so a
    reader never finds metadata whose module has not been written yet.
    """
    if len(code_hash) != 32:
        raise ValueError(f"code hash must be 32 bytes, got {len(code_hash)}")
    serialized, base, wasm_size = build_module(function, options)
    directory.mkdir(parents=True, exist_ok=True)
    stem = code_hash.hex()
    module_path = directory / f"{stem}{SUFFIX_MODULE}"
    meta_path = directory / f"{stem}{SUFFIX_META}"
    meta = ArtifactMetadata.model_validate(
        {
            **expected_fields(fork, options),
            "code_hash": "0x" + stem,
            "name": function.name,
            "code_size": len(function.code),
            "memory_base": base,
            "module": module_path.name,
            "module_size": len(serialized),
            "module_sha256": hashlib.sha256(serialized).hexdigest(),
            "wasm_size": wasm_size,
        }
    )
    _write_atomically(module_path, serialized)
    _write_atomically(meta_path, (meta.model_dump_json(indent=2) + "\n").encode())
    return meta_path


def read_metadata(path: Path) -> ArtifactMetadata:
    """Parse and validate an artifact's metadata file (:class:`ArtifactCorruptError` if not)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise ArtifactCorruptError(path, f"cannot read metadata: {exc.strerror or exc}") from None
    if len(raw) > MAX_METADATA_BYTES:
        raise ArtifactCorruptError(path, f"metadata larger than {MAX_METADATA_BYTES} bytes")
    try:
        meta = ArtifactMetadata.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise ArtifactCorruptError(path, f"invalid metadata: {where}: {first['msg']}") from None
    if meta.format_version != FORMAT_VERSION:
        raise ArtifactMismatchError(path, "format_version", meta.format_version, FORMAT_VERSION)
    if meta.memory_base != memory_base(meta.code_size):
        raise ArtifactCorruptError(
            path, f"memory_base {meta.memory_base} does not fit code_size {meta.code_size}"
        )
    return meta


def check_compatible(
    path: Path, meta: ArtifactMetadata, fork: str, options: CompileOptions
) -> None:
    """Raise :class:`ArtifactMismatchError` naming the first field that differs."""
    expected = expected_fields(fork, options)
    for name in CHECKED_FIELDS:
        found = getattr(meta, name)
        want = expected[name]
        if found != want:
            if isinstance(found, ArtifactOptions | EngineConfig) and isinstance(
                want, ArtifactOptions | EngineConfig
            ):
                raise ArtifactMismatchError(path, name, found.model_dump(), want.model_dump())
            raise ArtifactMismatchError(path, name, found, want)


def _read_module(path: Path, meta: ArtifactMetadata) -> tuple[Path, bytes]:
    module_path = path.parent / meta.module
    try:
        data = module_path.read_bytes()
    except OSError as exc:
        raise ArtifactCorruptError(
            module_path, f"cannot read module: {exc.strerror or exc}"
        ) from None
    if len(data) != meta.module_size:
        raise ArtifactCorruptError(
            module_path,
            f"module is {len(data)} bytes, metadata says {meta.module_size} (truncated?)",
        )
    if not data.startswith(_ELF_MAGIC):
        raise ArtifactCorruptError(module_path, "not a serialized wasmtime module")
    if hashlib.sha256(data).hexdigest() != meta.module_sha256:
        raise ArtifactCorruptError(module_path, "module content does not match its SHA-256")
    return module_path, data


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
    meta = read_metadata(path)
    check_compatible(path, meta, fork, options)
    module_path, data = _read_module(path, meta)
    module = _deserialize(module_path, data)
    _check_interface(module_path, module)
    executable = WasmArtifactExecutable(meta.name, CompiledContract(module, meta.memory_base))
    return LoadedArtifact(bytes.fromhex(meta.code_hash[2:]), executable)


__all__ = [
    "WasmArtifactExecutable",
    "build_module",
    "check_compatible",
    "load",
    "read_metadata",
    "save",
]
