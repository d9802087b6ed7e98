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

Two ways to use a directory: :func:`load_artifacts` loads every artifact up
front (a corrupt one fails at once), :class:`LazyArtifacts` only lists the
directory and loads an artifact the first time its code runs (a corrupt one
fails then).  The lazy form is for directories of thousands of contracts of
which a process runs a few, such as a conformance run's workers: loading all
of them into every worker would cost seconds and memory for nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evmkiln.builtins.keccak_backend import keccak256 as keccak
from evmkiln.codegen.artifact_errors import ArtifactCorruptError
from evmkiln.codegen.backend import AotBackend, Backend, CompileOptions, Executable
from evmkiln.codegen.budget import CompileRefused

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


def artifact_path(directory: Path | str, digest: bytes, suffix: str) -> Path:
    """Where an artifact for ``digest`` is found: ``<hex hash><suffix>``, as backends save them.

    The lazy store and the "already compiled?" check rely on this naming, the
    eager loader does not (it reads the hash from each artifact).
    """
    return Path(directory) / f"{digest.hex()}{suffix}"


def load_artifact(
    backend: AotBackend, path: Path, digest: bytes, *, fork: str, options: CompileOptions
) -> Executable:
    """The executable of the artifact at ``path``, which must hold the code hashing to ``digest``.

    The one way code is loaded by hash, for artifacts directories and the
    persistent code cache alike.  An artifact whose own code hash differs
    from the one it was looked up by is corrupt (:class:`ArtifactCorruptError`):
    the VM would run the wrong code.
    """
    artifact = backend.load(path, fork=fork, options=options)
    if artifact.code_hash != digest:
        raise ArtifactCorruptError(
            path, f"holds code 0x{artifact.code_hash.hex()}, not the code its name says"
        )
    return artifact.executable


LoadCallback = Callable[[bytes, float], None]
"""Called after each lazy load with the code hash and the seconds it took."""


class LazyArtifacts(Mapping[bytes, Executable]):
    """The artifacts of a directory by code hash, each loaded on first lookup.

    Construction lists the directory only (one ``scandir``): the files named
    ``<hex hash><suffix>`` are the keys.  ``get`` and ``[]`` load the artifact
    the first time and keep it; a corrupt or mismatched artifact raises
    :class:`~evmkiln.codegen.artifact_errors.ArtifactError` at that lookup
    (and again at every later one: it is never skipped), as :func:`load_artifacts`
    would have raised for the whole directory.  An artifact whose own code
    hash differs from its file name is corrupt: the VM would run the wrong
    code.  Files added to the directory afterwards are not seen.
    """

    def __init__(
        self,
        backend: Backend,
        directory: Path | str,
        *,
        fork: str,
        options: CompileOptions,
        on_load: LoadCallback | None = None,
    ) -> None:
        self.backend = require_aot(backend)
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"artifacts directory {self.directory} does not exist")
        self.fork = fork
        self.options = options
        self.on_load = on_load
        suffix = self.backend.artifact_suffix
        self._paths: dict[bytes, Path] = {}
        for path in self.directory.iterdir():
            name = path.name
            if not name.endswith(suffix) or name.startswith("."):
                continue  # other backends' files, and temporaries of an interrupted save
            digest = _hash_of_name(name[: -len(suffix)])
            if digest is None:
                raise ArtifactCorruptError(
                    path, f"not named <64 hex digits>{suffix}: cannot tell which code it is for"
                )
            self._paths[digest] = path
        self._loaded: dict[bytes, Executable] = {}

    @property
    def loaded(self) -> int:
        """How many artifacts have been loaded so far."""
        return len(self._loaded)

    def __len__(self) -> int:
        return len(self._paths)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._paths)

    def __contains__(self, digest: object) -> bool:
        return digest in self._paths

    def __getitem__(self, digest: bytes) -> Executable:
        executable = self._loaded.get(digest)
        if executable is not None:
            return executable
        path = self._paths[digest]  # KeyError: no artifact for this code
        start = time.perf_counter()
        executable = load_artifact(self.backend, path, digest, fork=self.fork, options=self.options)
        seconds = time.perf_counter() - start
        self._loaded[digest] = executable
        if self.on_load is not None:
            self.on_load(digest, seconds)
        return executable

    def get(self, digest: bytes, default: Executable | None = None) -> Executable | None:  # type: ignore[override]
        """Like ``Mapping.get``, except that only a missing file means "no artifact".

        ``Mapping.get`` would turn any ``KeyError`` raised inside a backend's
        ``load`` into ``None``, i.e. a silent recompile.
        """
        if digest not in self._paths:
            return default
        return self[digest]


def _hash_of_name(stem: str) -> bytes | None:
    if len(stem) != 64:
        return None
    try:
        return bytes.fromhex(stem)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class CompiledArtifact:
    """One contract handed to :func:`compile_artifacts`, and what became of it."""

    code_hash: bytes
    path: Path | None
    """The artifact written, or ``None`` if the code did not compile."""
    error: str = ""
    refused: bool = False
    """The compiler declined the code (over its compile budget): no failure,
    a VM interprets it."""


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
        import functools

        from evmkiln.context.code_cache import lower_with_pipeline

        lower = functools.partial(lower_with_pipeline, fork=fork)
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
        except CompileRefused as exc:
            results.append(CompiledArtifact(digest, None, str(exc), refused=True))
        except Exception as exc:  # reported per contract; the rest still compile
            results.append(CompiledArtifact(digest, None, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(CompiledArtifact(digest, path))
    return results
