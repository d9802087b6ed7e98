"""Ahead-of-time artifacts: compile a contract to a shared library, load it with ``dlopen``.

Why a shared library linked by the system ``cc`` rather than a relocatable
object handed to MCJIT (``ExecutionEngine.add_object_file``): loading an
object through MCJIT needs an engine and a target machine per contract and
runs LLVM's runtime linker over every relocation; measured on a 3.4 KB ERC-20
contract (a 69 KB object) it takes 1-10 ms, plus ~0.3 s to initialise LLVM
once.  ``dlopen`` of the same code linked as a shared library takes about
0.1 ms and needs no LLVM at all.  The linker runs once, at compile time.

The library is compiled position-independent with the small code model (the
JIT uses the large one), for the host's CPU and features, and exports one
function, ``i32 evm_<hash>(RuntimeContext *)``: the same contract as JIT code.
It needs no symbols from the process: the builtin entry table reaches it at run
time through ``ctx.entries``.

Loading trusts nothing it has not checked: the metadata is parsed and
validated, compared field by field with this process (see
:mod:`evmkiln.backend_llvm.artifact_meta`), and the library's size and
SHA-256 are checked before ``dlopen`` sees the file.  The check guards against
corruption and stale builds; an artifacts directory is code, to be trusted
like any other code on the import path.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.artifact_meta import (
    CHECKED_FIELDS,
    FORMAT_VERSION,
    SUFFIX_LIBRARY,
    SUFFIX_META,
    ArtifactMetadata,
    expected_fields,
)
from evmkiln.backend_llvm.backend import LlvmExecutable
from evmkiln.backend_llvm.translate import translate
from evmkiln.codegen import artifact_files
from evmkiln.codegen.artifact_errors import (
    ArtifactCorruptError,
    ArtifactError,
    ArtifactMismatchError,
)
from evmkiln.codegen.artifact_files import ELF_MAGIC, ArtifactFiles, artifact_stem
from evmkiln.codegen.backend import CompileOptions, LoadedArtifact
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess
from evmkiln.codegen.ir.function import Function

FILES = ArtifactFiles(
    model=ArtifactMetadata,
    format_version=FORMAT_VERSION,
    meta_suffix=SUFFIX_META,
    payload_suffix=SUFFIX_LIBRARY,
    payload="library",
    magic=ELF_MAGIC,
    not_magic="not an ELF shared library",
)

_lock = threading.Lock()
_machines: dict[int, Any] = {}
_loaded: dict[str, tuple[str, Any]] = {}
"""Libraries this process has opened, by resolved path: (SHA-256, handle)."""


class LinkerUnavailableError(ArtifactError):
    """No working C compiler driver to link the shared library with."""


def _aot_target_machine(opt_level: int) -> Any:
    level = max(0, min(3, opt_level))
    with _lock:
        tm = _machines.get(level)
        if tm is None:
            jit.target_machine(level)  # initialises the native target
            tm = _machines[level] = llvm.Target.from_default_triple().create_target_machine(
                cpu=llvm.get_host_cpu_name(),
                features=llvm.get_host_cpu_features().flatten(),
                opt=level,
                reloc="pic",
                codemodel="small",
            )
        return tm


def _cc() -> str:
    return os.environ.get("CC", "cc")


@cache
def linker_version() -> str:
    """First line of ``cc --version`` (recorded in the metadata, never checked)."""
    try:
        done = subprocess.run([_cc(), "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LinkerUnavailableError(_cc(), f"cannot run the linker: {exc}") from None
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


AOT_LIMITS = CompileLimits(seconds=900.0)
"""Artifacts are always built with the optimising code generator: the largest
contracts take tens of seconds, more when the machine is busy."""
_compiler = CompilerProcess(AOT_LIMITS)
"""LLVM runs in a compiler process here too: a crash there fails one artifact."""


def object_code(ir_text: str, opt_level: int) -> bytes:
    """A position-independent object for a shared library (a compiler process's job)."""
    module = jit.parse(ir_text, opt_level)
    tm = _aot_target_machine(opt_level)
    with _lock:
        return bytes(tm.emit_object(module))


def build_library(function: Function, options: CompileOptions) -> bytes:
    """The shared library for ``function``: LLVM to an object, ``cc -shared`` to a library."""
    text = str(translate(function, options))
    obj = _compiler.call("evmkiln.backend_llvm.aot:object_code", text, options.opt_level)
    with tempfile.TemporaryDirectory(prefix="evmkiln-aot-") as tmp:
        obj_path, lib_path = Path(tmp) / "code.o", Path(tmp) / "code.so"
        obj_path.write_bytes(obj)
        command = [_cc(), "-shared", "-Wl,--no-undefined", "-o", str(lib_path), str(obj_path)]
        try:
            subprocess.run(command, capture_output=True, text=True, check=True)
        except OSError as exc:
            raise LinkerUnavailableError(_cc(), f"cannot run the linker: {exc}") from None
        except subprocess.CalledProcessError as exc:
            raise LinkerUnavailableError(_cc(), f"linking failed: {exc.stderr.strip()}") from None
        return lib_path.read_bytes()


def save(
    function: Function,
    directory: Path,
    *,
    code_hash: bytes,
    fork: str,
    options: CompileOptions,
) -> Path:
    """Write ``<hash>.llvm.so`` and ``<hash>.llvm.json`` into ``directory``; return the JSON."""
    stem = artifact_stem(code_hash)
    library = build_library(function, options)
    fields = {**expected_fields(fork, options), "symbol": function.name, "linker": linker_version()}
    return FILES.save(directory, stem, library, fields)


def read_metadata(path: Path) -> ArtifactMetadata:
    """Parse and validate an artifact's metadata file (:class:`ArtifactCorruptError` if not)."""
    return FILES.read_metadata(path)


def check_compatible(
    path: Path, meta: ArtifactMetadata, fork: str, options: CompileOptions
) -> None:
    """Raise :class:`ArtifactMismatchError` naming the first field that differs."""
    artifact_files.check_compatible(path, meta, expected_fields(fork, options), CHECKED_FIELDS)


def _open(lib_path: Path, sha256: str) -> Any:
    """``dlopen`` once per path; the dynamic loader would hand back a stale library
    if a path were reopened after its file was replaced."""
    key = str(lib_path.resolve())
    with _lock:
        seen = _loaded.get(key)
        if seen is not None:
            if seen[0] != sha256:
                raise ArtifactMismatchError(lib_path, "library_sha256", sha256, seen[0])
            return seen[1]
        try:
            handle = ctypes.CDLL(key, mode=ctypes.RTLD_LOCAL)
        except OSError as exc:
            raise ArtifactCorruptError(lib_path, f"dynamic loader refused it: {exc}") from None
        _loaded[key] = (sha256, handle)
        return handle


class _DlInfo(ctypes.Structure):
    _fields_ = (
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    )


_RTLD_DL_LINKMAP = 2
"""``dladdr1``'s request for the link map of the object containing an address."""
_RTLD_DI_LINKMAP = 2
"""``dlinfo``'s request for the link map of a handle."""


@cache
def _dl_functions() -> tuple[Any, Any] | None:
    """glibc's ``dladdr1`` and ``dlinfo`` (in ``libdl`` before 2.34), or None."""
    for library in (None, "libdl.so.2"):
        try:
            loaded = ctypes.CDLL(library)
            dladdr1, dlinfo = loaded.dladdr1, loaded.dlinfo
        except (OSError, AttributeError):
            continue
        dladdr1.argtypes = (
            ctypes.c_void_p,
            ctypes.POINTER(_DlInfo),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
        )
        dladdr1.restype = ctypes.c_int
        dlinfo.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
        dlinfo.restype = ctypes.c_int
        return dladdr1, dlinfo
    return None  # pragma: no cover - every glibc has both


def _defined_in(address: int, handle: Any, lib_path: Path) -> bool:
    """Whether ``address`` lies in the library ``handle`` opened (not in one it depends on).

    The object that maps the address and the handle's own object are compared
    by their link maps, not by path: the loader hands back the library it
    already has for a file reached by another path (a hard link, a directory
    renamed since), under the name it was first opened with.  Without
    ``dladdr1`` the paths are compared.
    """
    info = _DlInfo()
    functions = _dl_functions()
    if functions is None:  # pragma: no cover - a C library without glibc's extensions
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes = (ctypes.c_void_p, ctypes.POINTER(_DlInfo))
        if not dladdr(address, ctypes.byref(info)) or not info.dli_fname:
            return False
        return os.path.realpath(os.fsdecode(info.dli_fname)) == str(lib_path.resolve())
    dladdr1, dlinfo = functions
    mapped, own = ctypes.c_void_p(), ctypes.c_void_p()
    if not dladdr1(address, ctypes.byref(info), ctypes.byref(mapped), _RTLD_DL_LINKMAP):
        return False
    if dlinfo(handle._handle, _RTLD_DI_LINKMAP, ctypes.byref(own)) != 0:
        return False
    return mapped.value is not None and mapped.value == own.value


def load(path: Path, *, fork: str, options: CompileOptions) -> LoadedArtifact:
    """Check the artifact whose metadata is at ``path`` and load its code; never compiles."""
    meta = read_metadata(path)
    check_compatible(path, meta, fork, options)
    lib_path, _ = FILES.read_payload(path, meta.library, meta.library_size, meta.library_sha256)
    handle = _open(lib_path, meta.library_sha256)
    try:
        address = ctypes.cast(getattr(handle, meta.symbol), ctypes.c_void_p).value
    except AttributeError:
        raise ArtifactCorruptError(lib_path, f"library has no symbol {meta.symbol}") from None
    if not address:  # pragma: no cover - dlsym never returns NULL for a defined function
        raise ArtifactCorruptError(lib_path, f"symbol {meta.symbol} has no address")
    if not _defined_in(address, handle, lib_path):
        # dlsym also searches the library's dependencies: a name the metadata gives
        # wrongly (``abort``, ``exit``) would otherwise be run as the contract.
        raise ArtifactCorruptError(lib_path, f"library has no symbol {meta.symbol}")
    executable = LlvmExecutable(meta.symbol, jit.Compiled(handle, address))
    return LoadedArtifact(bytes.fromhex(meta.code_hash[2:]), executable)


__all__ = [
    "LinkerUnavailableError",
    "build_library",
    "check_compatible",
    "expected_fields",
    "linker_version",
    "load",
    "read_metadata",
    "save",
]
