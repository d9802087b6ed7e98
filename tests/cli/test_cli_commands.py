"""The ``evmkiln`` command line: ``run`` on bench fixtures and ``statetest`` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handwritten import state_test
from typer.testing import CliRunner

from evmkiln.cli.main import app

runner = CliRunner()

SENDER = "0x1111111111111111111111111111111111111111"
CONTRACT = "0xcccccccccccccccccccccccccccccccccccccccc"
# LOG1 of 32 bytes (topic 0x01) then RETURN the word 0x2a:
# PUSH1 0x2a PUSH1 0 MSTORE PUSH1 1 PUSH1 32 PUSH1 0 LOG1 PUSH1 32 PUSH1 0 RETURN
EMIT_AND_RETURN = "0x602a600052600160206000a160206000f3"
REVERT = "0x60006000fd"


def _bench(code: str) -> dict[str, Any]:
    return {
        "tiny": {
            "env": {
                "currentBaseFee": "0x0",
                "currentCoinbase": "0x0000000000000000000000000000000000000000",
                "currentGasLimit": "0x7fffffffffffffff",
                "currentNumber": "0x1",
                "currentTimestamp": "0x1",
            },
            "pre": {
                SENDER: {"balance": "0xffffffffffff", "code": "0x", "nonce": "0x0", "storage": {}},
                CONTRACT: {"balance": "0x0", "code": code, "nonce": "0x1", "storage": {}},
            },
            "transaction": [
                {
                    "data": "0x",
                    "gasLimit": "0x0f4240",
                    "gasPrice": "0x0",
                    "nonce": "0x0",
                    "sender": SENDER,
                    "to": CONTRACT,
                    "value": "0x0",
                }
            ],
        }
    }


def _write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_run_prints_status_gas_output_logs(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "tiny.json", _bench(EMIT_AND_RETURN))
    result = runner.invoke(app, ["run", str(fixture), "--backend", "pyevm"])
    assert result.exit_code == 0, result.output
    assert "status     success" in result.output
    assert "output     0x" + "00" * 31 + "2a" in result.output
    assert "address 0x" + "cc" * 20 in result.output
    assert "topic   0x" + "00" * 31 + "01" in result.output
    assert "time " in result.output


def test_run_json_output(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "tiny.json", _bench(EMIT_AND_RETURN))
    result = runner.invoke(app, ["run", str(fixture), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "success"
    # 21000, 2 PUSH1, MSTORE (3 + 3 memory), 3 PUSH1, LOG1 (375 + 375 + 8 * 32), 2 PUSH1, RETURN
    assert data["gas_used"] == 21000 + 3 * 2 + 6 + 3 * 3 + 375 + 375 + 256 + 3 * 2
    assert data["logs"][0]["topics"] == ["0x" + "00" * 31 + "01"]
    assert data["logs"][0]["data"] == "0x" + "00" * 31 + "2a"


def test_run_reports_revert(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "tiny.json", _bench(REVERT))
    result = runner.invoke(app, ["run", str(fixture)])
    assert result.exit_code == 0, result.output
    assert "status     revert" in result.output


def test_run_on_malformed_fixture_names_the_file(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "broken.json", '{"tiny": ')
    result = runner.invoke(app, ["run", str(fixture)])
    assert result.exit_code == 2
    assert "broken.json" in result.output
    assert "invalid JSON" in result.output
    assert "Traceback" not in result.output


def test_run_with_unavailable_backend_is_a_usage_error(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "tiny.json", _bench(REVERT))
    result = runner.invoke(app, ["run", str(fixture), "--backend", "no-such-backend"])
    assert result.exit_code == 2
    assert "no-such-backend" in result.output


def test_run_refuses_a_backend_spec_naming_no_vm_class(tmp_path: Path) -> None:
    fixture = _write(tmp_path / "tiny.json", _bench(REVERT))
    result = runner.invoke(app, ["run", str(fixture), "--backend", "builtins:int"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "'builtins:int' names the class int, not a VM class to run on" in output
    assert "eth.vm.forks.cancun:CancunVM" in output
    assert "AttributeError" not in output


def test_run_unknown_fixture(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "nothing-here", "--fixtures", str(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.fixtures
def test_run_bench_fixture_by_name(fixtures_root: Path) -> None:
    result = runner.invoke(app, ["run", "counter", "--fixtures", str(fixtures_root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fixture"] == "counter"
    assert data["status"] == "success"
    assert data["gas_used"] > 21000


@pytest.mark.fixtures
def test_run_bench_fixture_by_path(fixtures_root: Path) -> None:
    path = fixtures_root / "bench" / "erc20_transfer.json"
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert "status     success" in result.output
    assert "logs       " in result.output


def _state_test(tmp_path: Path, good_hash: bool) -> Path:
    doc = state_test()
    if not good_hash:
        doc["storeTest"]["post"]["Cancun"][0]["hash"] = "0x" + "11" * 32
    path = tmp_path / "GeneralStateTests" / "stHand" / "store.json"
    path.parent.mkdir(parents=True)
    return _write(path, doc)


def test_statetest_command_passes_and_writes_json(tmp_path: Path) -> None:
    path = _state_test(tmp_path, good_hash=True)
    out = tmp_path / "results.json"
    result = runner.invoke(app, ["statetest", str(path), "-j", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output
    data = json.loads(out.read_text())
    assert [r["status"] for r in data["results"]] == ["passed"] * 3


def test_statetest_command_fails_on_unexpected_failure(tmp_path: Path) -> None:
    path = _state_test(tmp_path, good_hash=False)
    result = runner.invoke(app, ["statetest", str(path), "-j", "1", "-q"])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    assert "stHand/store.json::storeTest[d0g0v0]" in result.output
    expected = _write(tmp_path / "expected.txt", "stHand/store.json::storeTest[d0g0v0]\n")
    result = runner.invoke(
        app, ["statetest", str(path), "-j", "1", "-q", "--expected-failures", str(expected)]
    )
    assert result.exit_code == 0, result.output
    assert "(expected)" in result.output


def test_statetest_paths_from_and_no_match(tmp_path: Path) -> None:
    _state_test(tmp_path, good_hash=True)
    listing = _write(tmp_path / "subset.txt", "# subset\nstHand/store.json\n")
    fixtures = tmp_path / "fixtures"
    (fixtures / "statetests").mkdir(parents=True)
    (tmp_path / "GeneralStateTests").rename(fixtures / "statetests" / "GeneralStateTests")
    args = ["statetest", "--paths-from", str(listing), "--fixtures", str(fixtures), "-j", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 passed" in result.output
    result = runner.invoke(app, [*args, "--filter", "nothing-matches-this"])
    assert result.exit_code == 2
    assert "No case matched" in result.output


def test_statetest_without_fixtures_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVMKILN_FIXTURES", raising=False)
    result = runner.invoke(app, ["statetest"])
    assert result.exit_code == 2
    assert "EVMKILN_FIXTURES" in result.output


# CLZ(0x100) = 247, returned: an Osaka instruction, undefined before.
CLZ_RETURN = "0x6101001e5f5260205ff3"


@pytest.mark.parametrize("backend", ["pyevm", "ir"])
def test_run_on_a_chosen_fork(tmp_path: Path, backend: str) -> None:
    fixture = _write(tmp_path / "clz.json", _bench(CLZ_RETURN))
    osaka = runner.invoke(app, ["run", str(fixture), "--backend", backend, "--fork", "osaka"])
    assert osaka.exit_code == 0, osaka.output
    assert "fork       osaka" in osaka.output
    assert "status     success" in osaka.output
    assert "output     0x" + (247).to_bytes(32, "big").hex() in osaka.output
    cancun = runner.invoke(app, ["run", str(fixture), "--backend", backend])
    assert "fork       cancun" in cancun.output
    assert "status     halt" in cancun.output  # 0x1e is not an instruction before Osaka
    bad = runner.invoke(app, ["run", str(fixture), "--fork", "frontier"])
    assert bad.exit_code == 2 and "--fork" in bad.output


def test_run_caps_the_gas_limit_where_the_fork_does(tmp_path: Path) -> None:
    bench = _bench(EMIT_AND_RETURN)
    (name,) = bench
    bench[name]["transaction"][0]["gasLimit"] = "0x7fffffffffffffff"
    fixture = _write(tmp_path / "huge_gas.json", bench)
    result = runner.invoke(app, ["run", str(fixture), "--fork", "osaka"])
    assert result.exit_code == 0, result.output
    assert "capped at osaka's 16,777,216 (EIP-7825)" in result.output
    assert "status     success" in result.output
