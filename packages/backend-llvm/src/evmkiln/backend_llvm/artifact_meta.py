"""What an LLVM artifact was built for, and what the running process can run.

An artifact is two files named by the code hash, ``<hash>.llvm.json`` (this
metadata) next to ``<hash>.llvm.so`` (the shared library).  Two files rather
than one with a header because the dynamic loader needs a plain ELF file on
disk: a header would force copying the object to a temporary file on every
load, which costs more than the load itself.  The pair is bound together by
the library's size and SHA-256 in the metadata, checked before ``dlopen``.

Every field that decides whether native code is safe to run here is compared
with the running process (:func:`expected_fields`): fork, backend, evmkiln and
llvmlite/LLVM versions, a fingerprint of the compiler's sources and of the
native ABI (context layout and builtin entry table), target triple, CPU name
and features, and the compile options.  The linker's version is recorded for
reports only: a linked library does not depend on it.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

import llvmlite
import llvmlite.binding as llvm
from pydantic import BaseModel, ConfigDict, StringConstraints

from evmkiln.codegen.backend import CompileOptions

FORMAT_VERSION = 1
"""Bumped whenever the file layout or the meaning of a field changes."""

SUFFIX_META = ".llvm.json"
SUFFIX_LIBRARY = ".llvm.so"

CHECKED_FIELDS = (
    "format_version",
    "backend",
    "fork",
    "evmkiln_version",
    "compiler_fingerprint",
    "llvmlite_version",
    "llvm_version",
    "target_triple",
    "cpu_name",
    "cpu_features",
    "options",
)
"""Fields that must equal the running process's values, in the order they are checked."""


CodeHash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.-]*$")]
"""A plain name in the metadata's directory: no separators, so never a path elsewhere."""
Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]


class ArtifactOptions(BaseModel):
    """The :class:`CompileOptions` an artifact was compiled with."""

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


class ArtifactMetadata(BaseModel):
    """The JSON file of one artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int
    backend: Literal["llvm"]
    code_hash: CodeHash
    """Keccak-256 of the contract code, ``0x``-prefixed hex."""
    fork: str
    evmkiln_version: str
    compiler_fingerprint: str
    llvmlite_version: str
    llvm_version: str
    target_triple: str
    cpu_name: str
    cpu_features: str
    options: ArtifactOptions
    symbol: Symbol
    """The generated function, ``i32 symbol(RuntimeContext *)``."""
    library: FileName
    """File name of the shared library, in the metadata's directory."""
    library_size: int
    library_sha256: Sha256
    linker: str


@cache
def _package_version(name: str) -> str:
    """Cached: ``importlib.metadata`` scans the environment, a third of a millisecond."""
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


@cache
def _fingerprint() -> str:
    """SHA-256 of the compiler's sources and of the native ABI.

    The package versions only change on release; in a working tree, any edit
    to lowering, builtins or the translator changes the generated code, so
    the sources themselves are hashed (once per process, a few milliseconds).
    """
    import evmkiln.backend_llvm as backend_pkg
    import evmkiln.builtins as builtins_pkg
    import evmkiln.codegen as codegen_pkg
    from evmkiln.backend_llvm.builtin_bridge import ENTRY_NAMES, MAX_BUILTIN_WORDS
    from evmkiln.backend_llvm.context_layout import FIELDS

    digest = hashlib.sha256()
    digest.update(repr((FIELDS, ENTRY_NAMES, MAX_BUILTIN_WORDS)).encode())
    for package in (builtins_pkg, codegen_pkg, backend_pkg):
        root = Path(next(iter(package.__path__)))
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode() + b"\0")
            digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


_host_lock = threading.Lock()


@cache
def _host() -> dict[str, str]:
    with _host_lock:
        features = sorted(f for f in llvm.get_host_cpu_features().flatten().split(",") if f)
        return {
            "llvmlite_version": llvmlite.__version__,
            "llvm_version": ".".join(str(part) for part in llvm.llvm_version_info),
            "target_triple": llvm.get_default_triple(),
            "cpu_name": llvm.get_host_cpu_name(),
            "cpu_features": ",".join(features),
        }


def expected_fields(fork: str, options: CompileOptions) -> dict[str, object]:
    """The values of :data:`CHECKED_FIELDS` this process compiles for and can run."""
    return {
        "format_version": FORMAT_VERSION,
        "backend": "llvm",
        "fork": fork,
        "evmkiln_version": _package_version("evmkiln-backend-llvm"),
        "compiler_fingerprint": _fingerprint(),
        **_host(),
        "options": ArtifactOptions.of(options),
    }


def host_cpu() -> tuple[str, str]:
    """CPU name and sorted feature string of this machine (what artifacts are built for)."""
    host = _host()
    return host["cpu_name"], host["cpu_features"]
