"""``evmkiln bench --artifacts``: contracts loaded, not compiled; load times and frames shown."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import FakeRunner, case, observation
from rich.console import Console
from typer.testing import CliRunner

from evmkiln.bench.case import BenchCase
from evmkiln.bench.compile_timing import CompileLog, TimedBackend
from evmkiln.bench.measure import Settings
from evmkiln.bench.report import aot_table, results_json
from evmkiln.bench.session import run_fixture
from evmkiln.cli.main import app
from evmkiln.codegen.backend import AotBackend
from evmkiln.context import DispatchStats, get_backend


@dataclass
class AotFakeEngine:
    """Pretends to run from artifacts: two loads logged, every frame from an artifact."""

    name: str = "llvm"

    def prepare(self, case: BenchCase) -> FakeRunner:
        log = CompileLog(dispatch=DispatchStats(frames_run_compiled=4, frames_run_aot=4))
        log.record_load(b"\xab" * 32, 0.0003)
        log.record_load(b"\xcd" * 32, 0.002)  # over the 1 ms target
        return FakeRunner([observation()], compile_log=log)


def test_load_times_and_frames_in_table_and_json() -> None:
    result = run_fixture(case(), [AotFakeEngine()], Settings(repeat=1, budget=None))
    table = aot_table([result])
    assert table is not None
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(table)
    text = buffer.getvalue()
    assert "0xabababababababab" in text and "300.0 µs" in text and "2.00 ms" in text
    assert "4 of 4" in text
    data = results_json([result], Settings(), machine={}, command="", date="")
    aot = data["fixtures"][0]["engines"]["llvm"]["aot"]
    assert aot["frames_run_aot"] == 4 and [load["seconds"] for load in aot["loads"]] == [
        0.0003,
        0.002,
    ]


def test_no_table_without_artifacts() -> None:
    result = run_fixture(case(), [], Settings(repeat=1, budget=None))
    assert aot_table([result]) is None


def test_timed_backend_is_an_aot_backend_exactly_when_the_inner_one_is() -> None:
    assert not isinstance(TimedBackend(get_backend("ir"), CompileLog()), AotBackend)
    pytest.importorskip("evmkiln.backend_llvm")
    timed = TimedBackend(get_backend("llvm"), CompileLog())
    assert isinstance(timed, AotBackend) and timed.artifact_suffix == ".llvm.json"


def test_bench_runs_llvm_from_artifacts(fixtures_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    fixture = fixtures_root / "bench" / "factorial.json"
    artifacts = tmp_path / "arts"
    compiled = CliRunner().invoke(
        app, ["compile", "--from-fixtures", str(fixture), "-o", str(artifacts)]
    )
    assert compiled.exit_code == 0, compiled.output
    out = tmp_path / "bench.json"
    args = ["bench", str(fixture), "--backend", "llvm", "--no-pyevm", "--no-revm"]
    args += ["--repeat", "1", "--param", "factorial.iterations=20", "--json", str(out)]
    result = CliRunner().invoke(app, [*args, "--artifacts", str(artifacts), "--strict-aot"])
    assert result.exit_code == 0, result.output
    assert "load time per contract" in result.output
    llvm = json.loads(out.read_text())["fixtures"][0]["engines"]["llvm"]
    assert llvm["state"] == "ok" and llvm["compile"]["contracts"] == []
    aot = llvm["aot"]
    assert len(aot["loads"]) == 1 and aot["frames_run_aot"] == aot["frames_run_compiled"] > 0

    refused = CliRunner().invoke(app, [*args, "--backend", "ir", "--artifacts", str(artifacts)])
    assert refused.exit_code == 2 and "ahead-of-time" in refused.output
