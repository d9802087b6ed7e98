"""Artifacts directories: code compiled ahead of time, loaded by code hash.

A directory holds any number of artifacts of one or more backends; a backend
finds its own by file suffix (``AotBackend.artifact_suffix``) and loads each
without compiling.  The context knows nothing of the file format: it only
maps keccak code hashes to executables, which the code cache consults before
compiling (see :class:`~evmkiln.context.code_cache.CodeCache`).

Loading is all-or-nothing: an artifact that is corrupt or was built for
another fork, compiler, option set or CPU makes :func:`load_artifacts` raise
(:class:`~evmkiln.codegen.artifact_errors.ArtifactError`) rather than be
skipped, because a silently skipped artifact would be silently recompiled,
and whoever asked for artifacts wants to know that they are not being used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eth_hash.auto import keccak

from evmkiln.codegen.backend import AotBackend, Backend, CompileOptions, Executable

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function


class AotRequiredError(RuntimeError):
    """Strict ahead-of-time mode met code that has no artifact (it would have to be compiled)."""


def code_hash(code: bytes) -> bytes:
    """The keccak-256 hash artifacts are keyed by."""
    return bytes(keccak(code))


def require_aot(backend: Backend) -> AotBackend:
    """``backend`` as an :class:`AotBackend`, or a ``TypeError`` saying it has no artifacts."""
    if not isinstance(backend, AotBackend):
        raise TypeError(f"the {backend.name} backend cannot save or load compiled artifacts")
    return backend


def load_artifacts(
    backend: Backend, directory: Path | str, *, fork: str, options: CompileOptions
) -> dict[bytes, Executable]:
    """Every artifact of ``backend`` in ``directory``, by code hash."""
    aot = require_aot(backend)
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"artifacts directory {root} does not exist")
    loaded: dict[bytes, Executable] = {}
    for path in sorted(root.glob(f"*{aot.artifact_suffix}")):
        artifact = aot.load(path, fork=fork, options=options)
        loaded[artifact.code_hash] = artifact.executable
    return loaded


@dataclass(frozen=True, slots=True)
class CompiledArtifact:
    """One contract handed to :func:`compile_artifacts`, and what became of it."""

    code_hash: bytes
    path: Path | None
    """The artifact written, or ``None`` if the code did not compile."""
    error: str = ""


def compile_artifacts(
    backend: Backend,
    codes: Iterable[bytes],
    directory: Path | str,
    *,
    fork: str,
    options: CompileOptions,
    lower: Callable[[bytes], Function] | None = None,
) -> list[CompiledArtifact]:
    """Compile each distinct non-empty code into ``directory``.

    ``lower`` defaults to codegen's pipeline, as for the VM.  A code that
    fails to lower or compile is reported, not raised: a VM without its
    artifact interprets or JITs it, as it would any failure.
    """
    if lower is None:
        from evmkiln.context.code_cache import lower_with_pipeline

        lower = lower_with_pipeline
    aot = require_aot(backend)
    out = Path(directory)
    results: list[CompiledArtifact] = []
    seen: set[bytes] = set()
    for code in codes:
        digest = code_hash(code)
        if not code or digest in seen:
            continue
        seen.add(digest)
        try:
            path = aot.save(lower(code), out, code_hash=digest, fork=fork, options=options)
        except Exception as exc:  # reported per contract; the rest still compile
            results.append(CompiledArtifact(digest, None, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(CompiledArtifact(digest, path))
    return results
