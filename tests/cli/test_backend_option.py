"""``--backend`` names checked before a run: a usage error naming the unknown ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.cli.main import app
from evmkiln.context import available_backends

runner = CliRunner(env={"COLUMNS": "400"})

# Short runs, were the name not checked first.
COMMANDS = {
    "demo": ["demo", "--no-ir", "--n", "3"],
    "soak": ["soak", "--contracts", "4", "--transactions", "2"],
    "bench": ["bench", "--repeat", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", ["bogus", "pyevm"])
def test_an_unknown_backend_is_a_usage_error(command: str, name: str) -> None:
    result = runner.invoke(app, [*COMMANDS[command], "--backend", name])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"Invalid value for --backend: unknown backend(s) '{name}'" in output
    assert f"known: {', '.join(available_backends())}" in output
    assert isinstance(result.exception, SystemExit)  # not UnknownBackendError


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_a_list_names_only_its_unknown_backends(command: str) -> None:
    result = runner.invoke(app, [*COMMANDS[command], "--backend", "ir,bogus,nope"])
    assert result.exit_code == 2, result.output
    assert "unknown backend(s) 'bogus', 'nope'; known:" in result.output


def test_bench_also_knows_pyevm_on_the_flat_state() -> None:
    result = runner.invoke(app, [*COMMANDS["bench"], "--backend", "bogus"])
    assert "pyevm-flat" in result.output


def test_soak_takes_one_backend() -> None:
    result = runner.invoke(app, [*COMMANDS["soak"], "--backend", "ir,llvm"])
    assert result.exit_code == 2 and "unknown backend(s) 'ir,llvm'" in result.output


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bogus", "unknown backend(s) 'bogus'; known:"),
        ("no_such_module:VM", "cannot import VM class 'no_such_module:VM'"),
        ("builtins:int", "names the class int, not a VM class"),
    ],
)
def test_statetest_refuses_a_backend_before_any_case(
    name: str, message: str, tmp_path: Path
) -> None:
    """Not a run in which every case errors, one worker at a time."""
    result = runner.invoke(app, ["statetest", str(tmp_path), "-j", "1", "-q", "--backend", name])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert message in output
    assert "cases in" not in output  # no run summary: nothing ran


@pytest.mark.parametrize("name", ["pyevm", "pyevm-flat", "eth.vm.forks.cancun:CancunVM"])
def test_statetest_takes_stock_and_class_backends(name: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["statetest", str(tmp_path), "-j", "1", "-q", "--backend", name])
    assert "Invalid value for --backend" not in result.output
