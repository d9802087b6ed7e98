"""``evmkiln cache show | verify | clear`` on a cache filled by a VM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.cli.main import app
from evmkiln.codegen.backend import AotBackend, CompileOptions
from evmkiln.context.artifact_store import code_hash
from evmkiln.context.code_cache import lower_with_pipeline
from evmkiln.context.disk_cache import CACHE_BYTES_ENV, CACHE_DIR_ENV, DiskCache, scan
from evmkiln.context.registry import get_backend

pytest.importorskip("evmkiln.backend_wasm")

runner = CliRunner()
CODES = (bytes.fromhex("602a5f5260205ff3"), bytes.fromhex("60003560010160005260206000f3"))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    backend = get_backend("wasm")
    assert isinstance(backend, AotBackend)
    cache = DiskCache(backend, tmp_path, fork="cancun", options=CompileOptions(), background=False)
    for code in CODES:
        cache.store(code, lower_with_pipeline(code))
    assert cache.stats.cache_stored == 2
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["cache", *args])
    return result.exit_code, result.output


def test_show_counts_entries_per_backend_and_fork(cache_dir: Path) -> None:
    code, out = invoke("show", "--dir", str(cache_dir), "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["entries"] == 2 and shown["bytes"] == sum(e.size for e in scan(cache_dir))
    assert [(g["backend"], g["fork"], g["entries"], g["keys"]) for g in shown["groups"]] == [
        ("wasm", "cancun", 2, 1)
    ]
    code, out = invoke("show", "--dir", str(cache_dir))
    assert code == 0 and "entries    2" in out and "wasm" in out


def test_show_follows_the_environment(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache_dir))
    code, out = invoke("show", "--json")
    assert code == 0 and json.loads(out)["directory"] == str(cache_dir)
    assert json.loads(out)["enabled"] is False  # the test suite runs with EVMKILN_CACHE=off
    empty = tmp_path / "nothing-here"
    code, out = invoke("show", "--dir", str(empty))
    assert code == 0 and "does not exist yet" in out and "entries    0" in out


@pytest.mark.parametrize("command", ["show", "verify", "clear"])
def test_a_file_is_not_a_cache_directory(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "does not exist yet" or an empty cache: a usage error saying what is wrong."""
    a_file = tmp_path / "cache"
    a_file.write_text("not a directory")
    wide = CliRunner(env={"COLUMNS": "400"})
    for directory, message in (
        (a_file, f"Invalid value for --dir: {a_file} is not a directory"),
        (a_file / "code", f"{a_file / 'code'} cannot be created: {a_file} is not a directory"),
    ):
        result = wide.invoke(app, ["cache", command, "--dir", str(directory)])
        assert result.exit_code == 2, result.output
        assert message in result.output
    monkeypatch.setenv(CACHE_DIR_ENV, str(a_file))
    result = wide.invoke(app, ["cache", command])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {CACHE_DIR_ENV}: {a_file} is not a directory" in result.output
    assert a_file.read_text() == "not a directory"


def test_show_names_a_malformed_size_cap(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A usage error naming the variable, not a traceback."""
    monkeypatch.setenv(CACHE_BYTES_ENV, "abc")
    result = runner.invoke(app, ["cache", "show", "--dir", str(cache_dir)])
    assert result.exit_code == 2, result.output
    assert "must be a positive number of bytes" in " ".join(result.output.split())


def test_show_names_a_cache_switch_neither_on_nor_off(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "on": a usage error listing the values EVMKILN_CACHE takes."""
    monkeypatch.setenv("EVMKILN_CACHE", "garbage")
    result = runner.invoke(app, ["cache", "show", "--dir", str(cache_dir)])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "EVMKILN_CACHE='garbage': expected one of on," in output


def test_verify_reports_bad_and_stale_entries(cache_dir: Path) -> None:
    code, out = invoke("verify", "--dir", str(cache_dir))
    assert code == 0 and "2 ok, 0 stale" in out and "0 bad" in out

    entry = next(e for e in scan(cache_dir) if e.code_hash == code_hash(CODES[0]))
    stale = entry.path.parent.with_name("0123456789abcdef") / entry.path.name
    shutil.copytree(entry.path, stale)  # as if another build had written it
    module = next(entry.path.glob("*.cwasm"))
    data = bytearray(module.read_bytes())
    data[len(data) // 2] ^= 0xFF
    module.unlink()
    module.write_bytes(bytes(data))

    code, out = invoke("verify", "--dir", str(cache_dir), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["ok"], report["stale"], report["bad"]) == (1, 1, 1)
    assert "SHA-256" in report["bad_entries"][0]["error"]

    code, out = invoke("verify", "--dir", str(cache_dir), "--delete-bad")
    assert code == 1 and "deleted 1 bad entries" in out
    code, out = invoke("verify", "--dir", str(cache_dir))
    assert code == 0 and "1 ok, 1 stale" in out


def test_clear_removes_entries_and_nothing_else(cache_dir: Path) -> None:
    unrelated = cache_dir / "notes.txt"
    unrelated.write_text("not the cache's")
    (cache_dir / "wasm" / "README").write_text("nor this")
    code, out = invoke("clear", "--dir", str(cache_dir), "--json")
    assert code == 0, out
    assert json.loads(out)["removed"] == 2
    assert scan(cache_dir) == []
    assert unrelated.read_text() == "not the cache's"
    assert (cache_dir / "wasm" / "README").is_file()
    code, out = invoke("show", "--dir", str(cache_dir), "--json")
    assert json.loads(out)["entries"] == 0


@pytest.mark.fixtures
def test_run_fills_then_loads_the_cache(
    fixtures_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVMKILN_CACHE", "on")
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    args = ["run", "counter", "--fixtures", str(fixtures_root), "-b", "wasm", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    cold, warm = json.loads(first.output), json.loads(second.output)
    assert cold["code_cache"]["stored"] >= 1 and cold["code_cache"]["loaded"] == 0
    assert warm["code_cache"]["compiled"] == 0
    assert warm["code_cache"]["loaded"] == cold["code_cache"]["stored"]
    assert warm["output"] == cold["output"] and warm["gas_used"] == cold["gas_used"]
    assert "code_cache" not in json.loads(runner.invoke(app, [*args, "--no-cache"]).output)
