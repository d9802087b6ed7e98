"""``--json PATH``: refused up front if no file can be written there; a failed write is one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from handwritten import state_test
from typer.testing import CliRunner

from evmkiln.cli.json_output import blocking_file, check_output_path
from evmkiln.cli.main import app

# Wide enough that rich's error box keeps a path on one line.
runner = CliRunner(env={"COLUMNS": "400"})

# Each command with arguments that, were the path not checked first, would make
# its run short (or a different usage error): never the whole suite.
COMMANDS = {
    "statetest": ["statetest", "-j", "1", "-q"],
    "bench": ["bench", "--repeat", "1"],
    "soak": ["soak", "-b", "ir", "--contracts", "4", "--transactions", "2"],
    "workload": ["workload", "--contracts", "1", "--transactions", "1"],
}


@pytest.fixture
def store_test(tmp_path: Path) -> Path:
    path = tmp_path / "store.json"
    path.write_text(json.dumps(state_test()))
    return path


def _bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "results.json"
    a_file.write_text("{}")
    return {
        "directory": (tmp_path, f"{tmp_path} is a directory"),
        "below a file": (a_file / "out.json", f"{a_file} is not a directory"),
        "below a file, deeper": (a_file / "sub" / "out.json", f"{a_file} is not a directory"),
    }


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unwritable_path_is_refused_before_the_run(
    command: str, tmp_path: Path, store_test: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVMKILN_FIXTURES", raising=False)  # nothing to run by default
    args = [*COMMANDS[command], *([str(store_test)] if command == "statetest" else [])]
    for path, message in _bad_paths(tmp_path).values():
        result = runner.invoke(app, [*args, "--json", str(path)])
        output = " ".join(result.output.split())  # rich wraps the error box
        assert result.exit_code == 2, result.output
        assert "Invalid value for '--json'" in output and message in output
        assert "passed" not in output and "transactions" not in output  # nothing ran
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_writable_paths_pass(tmp_path: Path) -> None:
    assert check_output_path(None) is None
    for path in (tmp_path / "new.json", tmp_path / "new" / "dirs" / "out.json"):
        assert check_output_path(path) == path
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert check_output_path(existing) == existing
    assert blocking_file(existing / "x" / "y.json") == existing
    assert blocking_file(Path("relative.json")) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = runner.invoke(app, ["soak", "--json", str(locked / "out.json")])
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2
    assert "no write permission" in " ".join(result.output.split())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_write_at_the_end_is_one_line(store_test: Path) -> None:
    """/dev/full takes the path check (it is writable) and fails the write: ENOSPC."""
    result = runner.invoke(
        app, ["statetest", str(store_test), "-j", "1", "-q", "--json", "/dev/full"]
    )
    assert result.exit_code == 1, result.output
    assert "3 passed" in result.output  # the run and its report happened
    assert "error: cannot write /dev/full: No space left on device" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
