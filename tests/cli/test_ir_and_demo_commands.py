"""The `ir` and `demo` commands end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from bytecode_gen import Asm, assemble_labels
from typer.testing import CliRunner

from evmkiln.cli import demo_cmd
from evmkiln.cli.main import app

runner = CliRunner()


def test_ir_prints_parsable_ir_with_jump_table() -> None:
    result = runner.invoke(app, ["ir", "0x600035565b00", "--stats"])
    assert result.exit_code == 0, result.output
    assert "jumptable 0x4 -> d4" in result.output
    assert "djump" in result.output
    assert "2 blocks" in result.output
    # Jump resolution cannot help a jump to calldata: both plans are the same.
    assert "; resolved plan: 2 versions (1 dynamic), no more than the direct plan's 2" in (
        result.output
    )
    assert "; lowered in " in result.output


def test_ir_stats_say_when_the_direct_plan_is_used() -> None:
    # f ([ret, x] -> x + 1, returning through the stack) called at 36 stack heights:
    # past 32 heights the calls go to f's dynamic version, and the resolved plan
    # would keep the jump table and add known-height copies of f on top.
    items: Asm = []
    for i in range(36):
        items += [0x5F] * i + [("push", f"r{i}"), 0x60, i, ("push", "f"), 0x56]
        items += [f"r{i}", 0x60, i, 0x55] + [0x50] * i
    items += [0x00, "f", 0x60, 1, 0x01, 0x90, 0x56]
    code = assemble_labels(items)
    result = runner.invoke(app, ["ir", "0x" + code.hex(), "--stats"])
    assert result.exit_code == 0, result.output
    assert "; direct plan: the resolved plan keeps" in result.output


def test_ir_reads_hex_files_and_rejects_garbage(tmp_path: Path) -> None:
    code = tmp_path / "code.hex"
    code.write_text("0x60016001015f5260205ff3\n")  # (1 + 1) stored and returned
    result = runner.invoke(app, ["ir", str(code)])
    assert result.exit_code == 0, result.output
    assert "const.i256 2" in result.output  # 1 + 1 folded
    bad = runner.invoke(app, ["ir", "not-hex-and-not-a-file"])
    assert bad.exit_code != 0
    assert "neither a file nor hex bytecode" in bad.output


def test_ir_takes_hex_longer_than_any_file_name() -> None:
    # 600 bytes of JUMPDEST and a STOP: 1,200+ hex digits, past the OS's name limit.
    result = runner.invoke(app, ["ir", "0x" + "5b" * 600 + "00", "--stats"])
    assert result.exit_code == 0, result.output
    assert "blocks" in result.output


def test_ir_emits_backend_forms() -> None:
    wat = runner.invoke(app, ["ir", "0x60016001015f5260205ff3", "--emit", "wat"])
    assert wat.exit_code == 0, wat.output
    assert "(module" in wat.output
    llvm = runner.invoke(app, ["ir", "0x60016001015f5260205ff3", "--emit", "llvm"])
    assert llvm.exit_code == 0, llvm.output
    assert "define" in llvm.output
    unknown = runner.invoke(app, ["ir", "0x00", "--emit", "jvm"])
    assert unknown.exit_code != 0


def test_demo_agrees_with_pyevm_on_every_backend() -> None:
    result = runner.invoke(app, ["demo", "--n", "20", "--no-ir"])
    assert result.exit_code == 0, result.output
    assert "fib(20) mod 2**256 = 6765" in result.output
    assert "identical results" in result.output
    for backend in ("ir", "llvm", "wasm"):
        assert f"evmkiln {backend}" in result.output


@pytest.mark.parametrize("n", ["-1", "1" + "0" * 80, str(2**256)], ids=["-1", "1e80", "2**256"])
def test_demo_refuses_an_n_no_calldata_word_holds(n: str) -> None:
    result = runner.invoke(app, ["demo", "--no-ir", "--n", n])
    assert result.exit_code == 2, result.output
    assert "must be a 256-bit unsigned integer" in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit)  # not OverflowError


def test_demo_says_when_the_loop_runs_out_of_gas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not fib(n) = 0: an n past what the gas pays for returns nothing."""
    monkeypatch.setattr(demo_cmd, "GAS_LIMIT", 30_000)  # 21,000 + about 160 steps
    result = runner.invoke(app, ["demo", "--no-ir", "-b", "ir", "--n", "1000"])
    assert result.exit_code == 0, result.output  # the engines agree on the failure
    assert "fib(1000) not computed: the transaction failed on py-evm (OutOfGas)" in result.output
    assert "mod 2**256 =" not in result.output
    assert "identical results" in result.output


def test_ir_says_why_code_over_budget_is_refused() -> None:
    deep = "0x" + "5f" * 64 + "5b" * 4000  # a 64-deep stack through 4,000 JUMPDESTs
    refused = runner.invoke(app, ["ir", deep, "--stats"])
    assert refused.exit_code == 1
    assert "compile budget exceeded" in refused.output and "--no-budget" in refused.output
    lowered = runner.invoke(app, ["ir", deep, "--stats", "--no-budget"])
    assert lowered.exit_code == 0, lowered.output
    assert "block parameters and branch arguments" in lowered.output
