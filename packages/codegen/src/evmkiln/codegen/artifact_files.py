"""The files of an ahead-of-time artifact, as every backend writes and checks them.

An artifact is two files named by the code hash: ``<hash><meta suffix>``, JSON
metadata, next to ``<hash><payload suffix>``, the backend's compiled code (a
shared library, a serialized wasm module, ...).  The metadata is a separate
file so that it can be read and checked before a single byte of the payload
reaches the dynamic loader or the runtime, and so that tools which do not
link a backend can read it.  The two are bound together by the payload's size
and SHA-256 in the metadata.

What a backend's artifacts have in common lives here: the pydantic pieces of
the metadata, writing the pair (payload first, each file atomically),
reading the metadata defensively, checking the payload before use and
comparing the fields that decide whether the code may run in this process.
What the payload is, how it is built and loaded, and which fields describe
the machine it was built for stay in the backend.  Refusals are the
exceptions of :mod:`evmkiln.codegen.artifact_errors`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import CompileOptions

MAX_METADATA_BYTES = 1 << 16
"""Metadata takes a few kilobytes at most; anything this large is not metadata."""

ELF_MAGIC = b"\x7fELF"

CodeHash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_][0-9A-Za-z_.-]*$")]
"""A plain name in the metadata's directory: no separators, so never a path elsewhere."""


class ArtifactOptions(BaseModel):
    """The :class:`CompileOptions` an artifact was compiled with.

    All options are recorded and compared, for every backend, even those a
    backend does not act on: ``make_vm_class`` options must match the
    artifacts' exactly.
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


class ArtifactMetadataBase(BaseModel):
    """The fields every backend's metadata file starts with.

    A backend's model redeclares ``backend`` as its ``Literal`` name (the
    field keeps its place, so files list their fields in the same order as
    before this base existed), then adds the fields that describe what it
    built for, ``options: ArtifactOptions``, and its payload's fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int
    backend: str
    code_hash: CodeHash
    """Keccak-256 of the contract code, ``0x``-prefixed hex."""
    fork: str
    evmkiln_version: str
    compiler_fingerprint: str


Meta = TypeVar("Meta", bound=ArtifactMetadataBase)


@cache
def package_version(name: str) -> str:
    """Cached: ``importlib.metadata`` scans the environment, a third of a millisecond."""
    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


def source_fingerprint(abi: object, packages: Iterable[ModuleType]) -> str:
    """SHA-256 of ``repr(abi)`` and of every Python source file of ``packages``.

    Package versions change on release only; in a working tree any edit to
    lowering, builtins or a backend changes the generated code, so the sources
    themselves are hashed.  Callers cache the result (a few milliseconds).
    """
    digest = hashlib.sha256()
    digest.update(repr(abi).encode())
    for package in packages:
        root = Path(next(iter(package.__path__)))
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode() + b"\0")
            digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
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


def artifact_stem(code_hash: bytes) -> str:
    """The file name stem of an artifact: the code hash in hex (``ValueError`` unless 32 bytes)."""
    if len(code_hash) != 32:
        raise ValueError(f"code hash must be 32 bytes, got {len(code_hash)}")
    return code_hash.hex()


@dataclass(frozen=True)
class ArtifactFiles(Generic[Meta]):
    """One backend's pair of files: how they are named, written, read and checked.

    ``payload`` names the payload in the metadata (its file name is the field
    ``payload``, its size ``<payload>_size``, its hash ``<payload>_sha256``)
    and in messages; ``magic`` is what a payload must start with, and
    ``not_magic`` the complaint when it does not.
    """

    model: type[Meta]
    format_version: int
    meta_suffix: str
    payload_suffix: str
    payload: str
    magic: bytes
    not_magic: str

    def save(
        self, directory: Path, stem: str, payload: bytes, fields: Mapping[str, object]
    ) -> Path:
        """Write the payload, then its metadata: ``fields``, the code hash and the payload's name,
        size and SHA-256.  Returns the metadata's path.

        The payload is written first: the metadata is what loaders look for, so
        a reader never finds metadata whose payload has not been written yet.
        """
        directory.mkdir(parents=True, exist_ok=True)
        payload_path = directory / f"{stem}{self.payload_suffix}"
        meta_path = directory / f"{stem}{self.meta_suffix}"
        meta = self.model.model_validate(
            {
                **fields,
                "code_hash": "0x" + stem,
                self.payload: payload_path.name,
                f"{self.payload}_size": len(payload),
                f"{self.payload}_sha256": hashlib.sha256(payload).hexdigest(),
            }
        )
        write_atomically(payload_path, payload)
        write_atomically(meta_path, (meta.model_dump_json(indent=2) + "\n").encode())
        return meta_path

    def read_metadata(self, path: Path) -> Meta:
        """Parse and validate a metadata file (:class:`ArtifactCorruptError` if not)."""
        raw = read_regular_file(path, MAX_METADATA_BYTES, "metadata")
        try:
            meta = self.model.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise ArtifactCorruptError(path, f"invalid metadata: {where}: {first['msg']}") from None
        if meta.format_version != self.format_version:
            raise ArtifactMismatchError(
                path, "format_version", meta.format_version, self.format_version
            )
        return meta

    def read_payload(self, path: Path, name: str, size: int, sha256: str) -> tuple[Path, bytes]:
        """The payload named by the metadata at ``path``, its size, magic and SHA-256 checked.

        Callers hand the bytes returned here, not the path, to whatever runs
        them when they can: the file could change after the check.
        """
        payload_path = path.parent / name
        what = self.payload
        data = read_regular_file(payload_path, size, what)
        if len(data) != size:
            raise ArtifactCorruptError(
                payload_path, f"{what} is {len(data)} bytes, metadata says {size} (truncated?)"
            )
        if not data.startswith(self.magic):
            raise ArtifactCorruptError(payload_path, self.not_magic)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactCorruptError(payload_path, f"{what} content does not match its SHA-256")
        return payload_path, data


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (:class:`ArtifactCorruptError`
    if it is anything else, larger, or unreadable).

    An artifact directory is input like any other: a FIFO in an entry's place
    would block the reader forever, and a link to ``/dev/zero`` or a huge file
    would be read whole before its size was compared.  The file is opened
    without blocking and its type and size are checked before anything is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ArtifactCorruptError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        # Checked before the descriptor becomes a file object: ``fdopen`` of a
        # directory raises an error that names neither the path nor the artifact.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArtifactCorruptError(path, f"{what} is not a regular file")
        if info.st_size > limit:
            raise ArtifactCorruptError(path, f"{what} is larger than {limit} bytes")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise ArtifactCorruptError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:  # grew after the check
        raise ArtifactCorruptError(path, f"{what} is larger than {limit} bytes")
    return data


def check_compatible(
    path: Path, meta: BaseModel, expected: Mapping[str, object], fields: Iterable[str]
) -> None:
    """Raise :class:`ArtifactMismatchError` naming the first of ``fields`` that differs.

    Nested models (options, a backend's engine settings) are reported as plain
    dicts, which is what the metadata file shows.
    """
    for name in fields:
        found = getattr(meta, name)
        want = expected[name]
        if found != want:
            if isinstance(found, BaseModel) and isinstance(want, BaseModel):
                raise ArtifactMismatchError(path, name, found.model_dump(), want.model_dump())
            raise ArtifactMismatchError(path, name, found, want)
