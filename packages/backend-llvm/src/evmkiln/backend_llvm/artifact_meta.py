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

import threading
from functools import cache
from typing import Annotated, Literal

import llvmlite
import llvmlite.binding as llvm
from pydantic import StringConstraints

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

Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]


class ArtifactMetadata(ArtifactMetadataBase):
    """The JSON file of one artifact."""

    backend: Literal["llvm"]
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
def _fingerprint() -> str:
    """SHA-256 of the compiler's sources and of the native ABI (context layout, builtin table)."""
    import evmkiln.backend_llvm as backend_pkg
    import evmkiln.builtins as builtins_pkg
    import evmkiln.codegen as codegen_pkg
    from evmkiln.backend_llvm.builtin_bridge import ENTRY_NAMES, MAX_BUILTIN_WORDS
    from evmkiln.backend_llvm.context_layout import FIELDS

    return source_fingerprint(
        (FIELDS, ENTRY_NAMES, MAX_BUILTIN_WORDS), (builtins_pkg, codegen_pkg, backend_pkg)
    )


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
        "evmkiln_version": package_version("evmkiln-backend-llvm"),
        "compiler_fingerprint": _fingerprint(),
        **_host(),
        "options": ArtifactOptions.of(options),
    }


def host_cpu() -> tuple[str, str]:
    """CPU name and sorted feature string of this machine (what artifacts are built for)."""
    host = _host()
    return host["cpu_name"], host["cpu_features"]
