"""``evmkiln compile``: bytecode or fixture contracts to an artifacts directory a VM loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_hash.auto import keccak
from handwritten import LOOP_CODE, STORE_CODE, state_test
from typer.testing import CliRunner

from evmkiln.cli.main import app
from evmkiln.context import make_vm_class

pytest.importorskip("evmkiln.backend_llvm")

runner = CliRunner()
CODE = "0x602a5f5260205ff3"  # RETURN the word 0x2a


def test_compile_hex_writes_library_and_metadata(tmp_path: Path) -> None:
    out = tmp_path / "arts"
    result = runner.invoke(app, ["compile", CODE, "--backend", "llvm", "-o", str(out), "-O", "1"])
    assert result.exit_code == 0, result.output
    stem = keccak(bytes.fromhex(CODE[2:])).hex()
    meta = json.loads((out / f"{stem}.llvm.json").read_text())
    assert meta["code_hash"] == "0x" + stem and meta["options"]["opt_level"] == 1
    assert (out / meta["library"]).is_file()
    assert "1 compiled, 0 failed" in result.output
    vm_class = make_vm_class("llvm", artifacts=out, opt_level=1, fork="cancun")
    assert vm_class.stats.aot_loaded == 1  # type: ignore[attr-defined]


def test_compile_from_fixtures_file_and_directory(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "store.json").write_text(json.dumps(state_test()))
    (fixtures / "broken.json").write_text("{")
    out = tmp_path / "arts"
    result = runner.invoke(app, ["compile", "--from-fixtures", str(fixtures), "-o", str(out)])
    assert result.exit_code == 0, result.output
    found = {p.name.split(".")[0] for p in out.glob("*.llvm.json")}
    assert found == {keccak(STORE_CODE).hex(), keccak(LOOP_CODE).hex()}
    assert "skipped" in result.output and "broken.json" in result.output
    single = runner.invoke(
        app, ["compile", "--from-fixtures", str(fixtures / "store.json"), "-o", str(out)]
    )
    assert single.exit_code == 0 and "2 compiled" in single.output


def test_compile_wasm_writes_module_and_metadata(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    out = tmp_path / "arts"
    result = runner.invoke(app, ["compile", CODE, "--backend", "wasm", "-o", str(out)])
    assert result.exit_code == 0, result.output
    stem = keccak(bytes.fromhex(CODE[2:])).hex()
    meta = json.loads((out / f"{stem}.wasm.json").read_text())
    assert meta["backend"] == "wasm" and meta["code_hash"] == "0x" + stem
    assert meta["module"] == f"{stem}.wasm.cwasm" and (out / meta["module"]).is_file()
    assert "1 compiled, 0 failed" in result.output
    vm_class = make_vm_class("wasm", artifacts=out, strict_aot=True, fork="cancun")
    assert vm_class.stats.aot_loaded == 1  # type: ignore[attr-defined]
    assert not list(out.glob("*.llvm.*"))


def test_compile_wasm_from_fixtures(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    fixture = tmp_path / "store.json"
    fixture.write_text(json.dumps(state_test()))
    out = tmp_path / "arts"
    result = runner.invoke(
        app, ["compile", "--from-fixtures", str(fixture), "-b", "wasm", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    found = {p.name.split(".")[0] for p in out.glob("*.wasm.json")}
    assert found == {keccak(STORE_CODE).hex(), keccak(LOOP_CODE).hex()}


def test_compile_needs_code_or_fixtures(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compile", "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert "CODE or --from-fixtures" in result.output


def test_compile_refuses_backend_without_aot(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compile", CODE, "--backend", "ir", "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert "cannot save or load" in result.output


def _bench_fixture(path: Path, code: str) -> Path:
    """A bench fixture whose one transaction calls ``code``."""
    sender, contract = "0x" + "11" * 20, "0x" + "cc" * 20
    account = {"balance": "0x0", "nonce": "0x1", "storage": {}}
    fixture = {
        "tiny": {
            "env": {
                "currentBaseFee": "0x0",
                "currentCoinbase": "0x" + "00" * 20,
                "currentGasLimit": "0x7fffffffffffffff",
                "currentNumber": "0x1",
                "currentTimestamp": "0x1",
            },
            "pre": {
                sender: {**account, "balance": "0xffffffffffff", "code": "0x", "nonce": "0x0"},
                contract: {**account, "code": code},
            },
            "transaction": [
                {
                    "data": "0x",
                    "gasLimit": "0x0f4240",
                    "gasPrice": "0x0",
                    "nonce": "0x0",
                    "sender": sender,
                    "to": contract,
                    "value": "0x0",
                }
            ],
        }
    }
    path.write_text(json.dumps(fixture))
    return path


def test_run_with_artifacts_runs_from_them(tmp_path: Path) -> None:
    fixture = _bench_fixture(tmp_path / "tiny.json", CODE)
    out = tmp_path / "arts"
    assert (
        runner.invoke(app, ["compile", "--from-fixtures", str(fixture), "-o", str(out)]).exit_code
        == 0
    )
    args = ["run", str(fixture), "--backend", "llvm", "--artifacts", str(out), "--strict-aot"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "success" and data["output"] == "0x" + "00" * 31 + "2a"
    assert data["frames"] == {
        "aot": 1,
        "jit": 0,
        "interpreted": 0,
        "without_code": 0,
        "jit_codes": 0,
        "artifacts_loaded": 1,
    }
    assert "1 frames ran from artifacts" in runner.invoke(app, args).output


def test_run_strict_aot_without_the_artifact_fails(tmp_path: Path) -> None:
    fixture = _bench_fixture(tmp_path / "tiny.json", CODE + "00")
    args = ["run", str(fixture), "--backend", "llvm", "--artifacts", str(tmp_path)]
    result = runner.invoke(app, [*args, "--strict-aot"])
    assert result.exit_code == 1 and "AotRequiredError" in result.output
    assert runner.invoke(app, ["run", str(fixture), "--strict-aot"]).exit_code == 2
    refused = runner.invoke(app, ["run", str(fixture), "--artifacts", str(tmp_path)])
    assert refused.exit_code == 2 and "ahead-of-time" in refused.output  # pyevm compiles nothing
