"""``evmkiln bench`` end to end on one small fixture, every engine, one repeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.cli.main import app


def test_bench_one_fixture_all_engines(fixtures_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "factorial",
            "--fixtures",
            str(fixtures_root),
            "--repeat",
            "1",
            "--param",
            "factorial.iterations=20",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "all engines agree" in result.output
    data = json.loads(out.read_text())
    (fixture,) = data["fixtures"]
    assert fixture["name"] == "factorial" and fixture["parameters"] == {"iterations": 20}
    engines = fixture["engines"]
    assert {"pyevm", "revm", "ir"} <= set(engines)
    assert all(e["state"] == "ok" for e in engines.values())
    gas = {e["result"]["gas_used"] for e in engines.values()}
    assert len(gas) == 1
    assert engines["ir"]["compile"]["contracts"]


def test_bench_pyevm_on_the_flat_state_agrees(fixtures_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        [
            *("bench", "weth", "--fixtures", str(fixtures_root), "--repeat", "2"),
            *("-b", "pyevm-flat", "--json", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    engines = json.loads(out.read_text())["fixtures"][0]["engines"]
    assert {"pyevm", "pyevm-flat", "revm"} == set(engines)
    assert engines["pyevm-flat"]["state"] == "ok"
    assert engines["pyevm-flat"]["result"] == engines["pyevm"]["result"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--fib-iterations=-1"], "--fib-iterations"),
        ([f"--fib-iterations={2**256}"], "--fib-iterations"),
        (["--param", "fibonacci-calldata.iterations=-1"], "--param"),
        (["--param", f"factorial.iterations={hex(2**256)}"], "--param"),
    ],
    ids=["fib -1", "fib 2**256", "param -1", "param 2**256"],
)
def test_a_parameter_out_of_range_is_a_usage_error(args: list[str], option: str) -> None:
    """As a malformed one is: refused before any fixture is read or engine made."""
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["bench", "fibonacci-calldata", "-b", "ir", "--repeat", "1", *args]
    )
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert f"Invalid value for {option}:" in output
    assert "must be a 256-bit unsigned integer (0 to 2**256 - 1)" in output
    assert isinstance(result.exception, SystemExit)  # not ValueError
