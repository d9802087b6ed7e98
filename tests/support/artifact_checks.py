"""What the backends' artifact tests share: damaging an artifact, refusals, fresh processes.

Every AOT backend writes the same pair of files (see
:mod:`evmkiln.codegen.artifact_files`) and must refuse the same kinds of
damage with the same errors; these helpers let each backend's tests say so
without restating how.  A backend's tests add what only its payload can get
wrong.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import AotBackend, CompileOptions

Corruption = tuple[Callable[[Path], object], str]
"""Something done to an artifact (given its metadata path), and what the refusal must say."""


def copy_artifact(meta_path: Path, directory: Path) -> Path:
    """A private copy of one artifact (metadata and payload: the files of its hash) to alter."""
    stem = meta_path.name.split(".", 1)[0]
    for path in meta_path.parent.glob(f"{stem}.*"):
        (directory / path.name).write_bytes(path.read_bytes())
    return directory / meta_path.name


def edit_metadata(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def payload_file(meta: Path, field: str) -> Path:
    """The payload file the metadata names in ``field`` (``library``, ``module``)."""
    return meta.parent / json.loads(meta.read_text())[field]


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def common_corruptions(field: str, not_magic: str, other_backend: str) -> dict[str, Corruption]:
    """Damage every backend's loader must refuse, for a payload named by ``field``."""

    def payload(meta: Path) -> Path:
        return payload_file(meta, field)

    def not_magic_payload(meta: Path) -> None:
        data = b"garbage!" + payload(meta).read_bytes()[8:]
        payload(meta).write_bytes(data)
        edit_metadata(meta, **{f"{field}_size": len(data)})

    return {
        f"truncated {field}": (
            lambda m: payload(m).write_bytes(payload(m).read_bytes()[:1000]),
            "truncated",
        ),
        f"altered {field}": (lambda m: flip_middle_byte(payload(m)), "SHA-256"),
        f"not a {field}": (not_magic_payload, not_magic),
        f"missing {field}": (lambda m: payload(m).unlink(), f"cannot read {field}"),
        "truncated metadata": (lambda m: m.write_bytes(m.read_bytes()[:100]), "invalid metadata"),
        "metadata not json": (lambda m: m.write_bytes(b"\x00\xff" * 10), "invalid metadata"),
        f"{field} outside the directory": (
            lambda m: edit_metadata(m, **{field: "../../etc/passwd"}),
            f"invalid metadata: {field}",
        ),
        "another backend": (
            lambda m: edit_metadata(m, backend=other_backend),
            "invalid metadata: backend",
        ),
        "huge metadata": (lambda m: m.write_bytes(b" " * (1 << 17)), "larger than"),
        # Read without blocking and sized before reading: a FIFO blocked the loader
        # forever, and /dev/zero or a huge file were read whole.
        "metadata a FIFO": (lambda m: replace_with_fifo(m), "not a regular file"),
        f"{field} a FIFO": (lambda m: replace_with_fifo(payload(m)), "not a regular file"),
        f"{field} linked to /dev/zero": (
            lambda m: replace_with_link(payload(m), Path("/dev/zero")),
            "not a regular file",
        ),
        f"huge {field}": (lambda m: grow_sparse(payload(m), 1 << 40), "larger than"),
        # Refused with the path named: opening a directory as a file raised an
        # error that named neither.
        "metadata a directory": (lambda m: replace_with_directory(m), "not a regular file"),
        f"{field} a directory": (
            lambda m: replace_with_directory(payload(m)),
            "not a regular file",
        ),
    }


def replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def replace_with_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def replace_with_link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def grow_sparse(path: Path, size: int) -> None:
    """Make ``path`` ``size`` bytes long without writing them (a hole)."""
    with path.open("r+b") as f:
        f.truncate(size)


def assert_corrupt_refused(
    backend: AotBackend, meta_path: Path, tmp_path: Path, corruption: Corruption
) -> None:
    corrupt, message = corruption
    path = copy_artifact(meta_path, tmp_path)
    corrupt(path)
    with pytest.raises(ArtifactCorruptError, match=message):
        backend.load(path, fork="cancun")


def assert_mismatch_refused(
    backend: AotBackend, meta_path: Path, tmp_path: Path, field: str, value: Any
) -> None:
    """A copy whose metadata says ``field: value`` is refused, naming ``field``."""
    path = copy_artifact(meta_path, tmp_path)
    edit_metadata(path, **{field: value})
    with pytest.raises(ArtifactMismatchError, match=field) as info:
        backend.load(path, fork="cancun")
    assert info.value.field == field


def assert_other_fork_and_options_refused(backend: AotBackend, meta_path: Path) -> None:
    with pytest.raises(ArtifactMismatchError) as info:
        backend.load(meta_path, fork="prague")
    assert info.value.field == "fork"
    with pytest.raises(ArtifactMismatchError) as info:
        backend.load(meta_path, fork="cancun", options=CompileOptions(gas_metering=False))
    assert info.value.field == "options"


def run_fresh_process(
    script: str,
    args: Sequence[str],
    import_dir: Path,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Run ``script`` in a new interpreter (``import_dir`` and this module importable); its JSON.

    A fresh process is the only proof that loading needs nothing the test
    process compiled or imported earlier.  ``env``: variables to add.
    """
    path = [str(import_dir), str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def fresh_process_loads(
    script: str,
    artifacts: Mapping[str, Path],
    programs: Mapping[str, bytes],
    calldata: bytes,
    import_dir: Path,
) -> dict[str, Any]:
    """What a loader script (ending in :func:`load_each`) reports for each of ``programs``."""
    args = [f"{name}={artifacts[name]}={programs[name].hex()}" for name in sorted(programs)]
    report = run_fresh_process(script, [calldata.hex(), *args], import_dir)
    # The first load also hashes the compiler's sources (once per process).
    print(f"\nfresh-process load times (ms): {[round(s * 1e3, 3) for s in report['seconds']]}")
    results: dict[str, Any] = report["results"]
    return results


def load_each(backend: AotBackend, run: Callable[[Any, bytes, bytes], object]) -> None:
    """A loader script's main: load each artifact of ``sys.argv``, run it, print the JSON report.

    ``sys.argv`` is the calldata in hex, then ``name=metadata path=code in hex``
    per artifact; ``run(executable, code, calldata)`` returns what to report.
    """
    calldata = bytes.fromhex(sys.argv[1])
    results, seconds = {}, []
    for arg in sys.argv[2:]:
        name, path, code = arg.split("=")
        start = time.perf_counter()
        loaded = backend.load(Path(path), fork="cancun")
        seconds.append(time.perf_counter() - start)
        results[name] = run(loaded.executable, bytes.fromhex(code), calldata)
    print(json.dumps({"results": results, "seconds": seconds}))
