"""``evmkiln statetest --aot DIR``: compile the selection's contracts, then run from artifacts.

Two small files of the CI subset on the llvm backend: one transient-storage
test (one contract), and a creation transaction whose initcode CREATEs a
contract, so the run has frames from artifacts and frames on code that only
exists at run time (JIT-compiled and counted).  The second run must find
every artifact already in the directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.cli.main import app
from evmkiln.fixtures.loading import load_state_test_file
from evmkiln.statetest.aot import selection_codes
from evmkiln.statetest.discovery import discover

FILES = (
    "Cancun/stEIP1153-transientStorage/17_tstoreGas.json",
    "Pyspecs/cancun/eip6780_selfdestruct/selfdestruct_created_in_same_tx_with_revert.json",
)


def _paths(fixtures_root: Path) -> list[str]:
    suite = fixtures_root / "statetests" / "GeneralStateTests"
    return [str(suite / name) for name in FILES]


@pytest.mark.fixtures
def test_selection_codes_hold_pre_state_code_and_initcode(fixtures_root: Path) -> None:
    paths = [Path(p) for p in _paths(fixtures_root)]
    codes = selection_codes(discover(paths).cases)
    expected: set[bytes] = set()
    for path in paths:
        for test in load_state_test_file(path).root.values():
            expected |= {bytes(a.code) for a in test.pre.values() if a.code}
            if test.transaction.to is None:
                expected |= {bytes(d) for d in test.transaction.data if d}
    assert len(codes) == len(set(codes)) and set(codes) == expected
    assert any(c not in {bytes(a.code) for a in test.pre.values()} for c in codes)  # initcode


@pytest.mark.fixtures
def test_aot_run_compiles_then_runs_from_artifacts(fixtures_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    artifacts = tmp_path / "artifacts"
    args = ["statetest", *_paths(fixtures_root), "--backend", "llvm", "--jobs", "2", "-q"]
    args += ["--aot", str(artifacts)]

    first = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "first.json")])
    assert first.exit_code == 0, first.output
    summary = json.loads((tmp_path / "first.json").read_text())["summary"]
    assert summary["passed"] == summary["cases"] == 4
    aot = summary["aot"]
    assert aot["compiled"] == aot["contracts"] > 0 and aot["failed"] == aot["reused"] == 0
    assert len(list(artifacts.glob("*.llvm.json"))) == aot["contracts"]
    frames = summary["frames"]
    assert frames["aot"] > 0 and frames["artifacts_loaded"] > 0
    assert frames["jit"] > 0 and frames["jit_codes"] > 0  # the contract CREATEd at run time
    assert "ran from artifacts" in first.output

    # A second run compiles nothing, except to replace an artifact the backend refuses.
    sorted(artifacts.glob("*.llvm.json"))[0].write_text("{")
    second = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "second.json")])
    assert second.exit_code == 0, second.output
    again = json.loads((tmp_path / "second.json").read_text())["summary"]
    assert again["aot"]["reused"] == aot["contracts"] - 1
    assert again["aot"]["compiled"] == again["aot"]["replaced"] == 1
    assert again["passed"] == 4 and again["frames"]["aot"] == frames["aot"]


@pytest.mark.fixtures
def test_artifacts_need_an_aot_backend(fixtures_root: Path, tmp_path: Path) -> None:
    args = ["statetest", *_paths(fixtures_root), "--artifacts", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--backend", "pyevm"])
    assert result.exit_code == 2 and "ahead-of-time" in result.output
    result = CliRunner().invoke(app, ["statetest", *_paths(fixtures_root), "--strict-aot"])
    assert result.exit_code == 2 and "--strict-aot needs" in result.output


def test_compiling_more_codes_than_one_pool_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers are recycled by starting fresh pools; every code still gets its artifact."""
    from evmkiln.statetest import aot

    monkeypatch.setattr(aot, "_TASKS_PER_WORKER", 2)
    codes = [bytes.fromhex(f"60{i:02x}60005260206000f3") for i in range(7)]  # RETURN i
    job = aot.CompileJob(backend="wasm", directory=str(tmp_path))
    results = aot.ensure_in_parallel(job, codes, jobs=2)
    assert sorted(outcome for _, outcome in results) == [aot.COMPILED] * 7
    assert all(artifact.path is not None and artifact.path.exists() for artifact, _ in results)
    again = aot.ensure_in_parallel(job, codes, jobs=2)
    assert [outcome for _, outcome in again] == [aot.REUSED] * 7
