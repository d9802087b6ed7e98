"""Why a compiled artifact on disk cannot be used.

Ahead-of-time artifacts are native code: running one built for another fork,
compiler, option set or CPU would not fail loudly, it would compute wrong
answers or crash the process.  Loaders therefore refuse with one of these
exceptions before any byte reaches the dynamic loader, and the message names
the file and the field so that the fix (recompile, or run with matching
settings) is obvious.  They live in codegen, next to the ``AotBackend``
protocol, so that the context can report them without importing a backend.
"""

from __future__ import annotations

from pathlib import Path


class ArtifactError(Exception):
    """An artifact that cannot be loaded into this process."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


class ArtifactCorruptError(ArtifactError):
    """Missing, truncated or altered files, or metadata that does not parse."""


class ArtifactMismatchError(ArtifactError):
    """Well-formed metadata describing a build this process cannot run.

    ``field`` is the metadata field that differs (``fork``, ``cpu_features``, ...).
    """

    def __init__(self, path: Path | str, field: str, artifact: object, running: object) -> None:
        self.field = field
        self.artifact_value = artifact
        self.running_value = running
        super().__init__(
            path,
            f"artifact {field} {artifact!r} does not match this process ({running!r}); "
            "recompile it with `evmkiln compile`",
        )
