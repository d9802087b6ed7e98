"""The workload benchmark: a deterministic stream, relocation, and agreement with stock py-evm."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.cli.main import app
from evmkiln.workload.contracts import relocate
from evmkiln.workload.driver import Run, WorkloadReport, compare, run_workload
from evmkiln.workload.plan import build_spec, draw, pack_blocks
from evmkiln.workload.spec import Call, Contract, GenesisAccount, WorkloadSpec
from evmkiln.workload.summary import contract_breakdown, summarize, targets


def test_draw_is_seeded_and_zipf_shaped() -> None:
    first = draw(100, 5_000, 1.1, random.Random(3))
    assert first == draw(100, 5_000, 1.1, random.Random(3))
    counts = [first.count(rank) for rank in range(100)]
    assert counts[0] > counts[9] > counts[99]
    assert counts[0] > 5_000 / 100 * 10  # the hottest takes far more than its share


def test_blocks_fill_to_half_the_gas_limit() -> None:
    assert pack_blocks([10, 10, 10, 25, 6], 60) == [3, 1, 1]
    assert pack_blocks([40], 60) == [1]  # a lone transaction over the target still gets a block
    assert sum(pack_blocks([7] * 100, 100)) == 100


def test_relocation_rewrites_push20_storage_and_calldata() -> None:
    old = bytes.fromhex("095e7baea6a6c7c4c2dfeb977efac326af552d87")
    helper = bytes.fromhex("1000000000000000000000000000000000000001")
    caller_code = b"\x73" + helper + b"\x31\x00"  # PUSH20 helper; BALANCE; STOP
    contract = Contract(
        "t",
        "statetest",
        (
            GenesisAccount(old, caller_code, storage={0: int.from_bytes(helper, "big")}),
            GenesisAccount(helper, b"\x00"),
        ),
        (Call("keyed", old, b"\x00" * 12 + helper, 0, 100_000),),
    )
    taken = {helper: GenesisAccount(helper, b"\xfe")}  # another test's code at that address
    moved = relocate(contract, taken)
    assert moved is not None
    new_helper = next(a.address for a in moved.accounts if a.code == b"\x00")
    assert new_helper != helper and new_helper not in taken
    caller = next(a for a in moved.accounts if a.address == old)  # not clashing: stays
    assert caller.code == b"\x73" + new_helper + b"\x31\x00"
    assert caller.storage == {0: int.from_bytes(new_helper, "big")}
    assert moved.calls[0].data == b"\x00" * 12 + new_helper
    short = Contract("s", "statetest", (GenesisAccount(b"\x00" * 18 + b"\x01\x00", b"\x00"),), ())
    assert relocate(short, {short.accounts[0].address: GenesisAccount(b"", b"\x01")}) is None


@pytest.fixture
def small_spec(fixtures_root: Path) -> WorkloadSpec:
    return build_spec(fixtures_root, contracts=16, transactions=40, seed=5)


@pytest.mark.fixtures
def test_spec_is_deterministic_and_round_trips(fixtures_root: Path, tmp_path: Path) -> None:
    spec = build_spec(fixtures_root, contracts=16, transactions=40, seed=5)
    again = build_spec(fixtures_root, contracts=16, transactions=40, seed=5)
    assert spec.to_json() == again.to_json()
    assert [c.source for c in spec.contracts[:3]] == ["bench"] * 3  # real contracts are hottest
    assert {c.source for c in spec.contracts} == {"bench", "statetest"}
    assert len({c.name for c in spec.contracts}) == 16
    spec.write(tmp_path / "spec.json")
    assert WorkloadSpec.read(tmp_path / "spec.json").to_json() == spec.to_json()
    assert sum(spec.blocks) == 40
    genesis = spec.genesis()
    for contract in spec.contracts:  # every contract's accounts are in the genesis as it needs them
        assert all(genesis[a.address] == a for a in contract.accounts)


@pytest.mark.fixtures
def test_evmkiln_agrees_with_stock_pyevm_in_fresh_processes(small_spec: WorkloadSpec) -> None:
    report = run_workload(small_spec, ["tiered", "blocking-wasm"])
    assert [r.configuration for r in report.runs] == ["pyevm", "tiered", "blocking-wasm"]
    assert all(r.ok for r in report.runs), [r.error for r in report.runs]
    assert report.mismatches == []
    rows = {row.configuration: row for row in summarize(report)}
    assert rows["blocking-wasm"].codes_compiled
    assert rows["pyevm"].stream_speedup == 1.0
    assert all(r.result is not None and r.result["transactions"] == 40 for r in report.runs)
    assert set(targets(list(rows.values())).values()) <= {True, False, None}


@pytest.mark.fixtures
def test_a_difference_is_reported(small_spec: WorkloadSpec) -> None:
    outcome = {"success": True, "gas": 21_000, "output": "", "logs": [], "error": ""}
    reference = {"outcomes": [outcome, outcome], "state_roots": ["aa", "bb"]}
    other = {"outcomes": [outcome, {**outcome, "gas": 21_001}], "state_roots": ["aa", "cc"]}
    problems = compare(reference, other, small_spec)
    assert len(problems) == 2
    assert "gas: 21001 != 21000" in problems[0]
    assert problems[1].startswith("block 2: state root cc")


@pytest.mark.fixtures
def test_warm_cache_without_a_cache_is_reported_not_run(small_spec: WorkloadSpec) -> None:
    report = run_workload(small_spec, ["warm-cache"], cache_dir=None)
    assert "warm-cache" in report.unavailable
    assert [r.configuration for r in report.runs] == ["pyevm"]


@pytest.mark.fixtures
def test_cli_writes_json(fixtures_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    result = CliRunner().invoke(
        app,
        ["workload", "--fixtures", str(fixtures_root), "--contracts", "6",
         "--transactions", "20", "-c", "dispatch", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["schema"] == "evmkiln-workload/1"
    assert [row["configuration"] for row in data["summary"]] == ["pyevm", "dispatch"]
    assert data["mismatches"] == []
    assert data["workload"]["transactions"] == 20


def test_cli_rejects_an_unknown_configuration(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["workload", "--fixtures", str(tmp_path), "-c", "nope"])
    assert result.exit_code != 0
    assert "unknown configuration" in result.output


def _synthetic_report() -> WorkloadReport:
    call = Call("keyed", b"\x01" * 20, b"", 0, 100_000)
    contracts = tuple(
        Contract(name, "statetest", (GenesisAccount(b"\x01" * 20, b"\x00"),), (call,))
        for name in ("hot", "cold")
    )
    spec = WorkloadSpec(contracts, ((0, 0), (1, 0), (0, 0)), (3,), 1, 1.1, 30_000_000, 1)

    def result(stream: float, each: list[float]) -> dict[str, object]:
        return {"setup_seconds": 1.0, "stream_seconds": stream, "evm_seconds": sum(each),
                "stream_cpu_seconds": stream, "compiler_cpu_seconds": 0.0,
                "evm_seconds_each": each, "counters": {}}  # fmt: skip

    report = WorkloadReport(spec)
    report.runs += [
        Run("pyevm", 0, 5.0, result(4.0, [1.0, 0.5, 1.0])),
        Run("tiered", 0, 4.0, result(2.0, [1.0, 0.5, 0.2])),
    ]
    return report


def test_summary_ratios_targets_and_breakdown() -> None:
    report = _synthetic_report()
    rows = {row.configuration: row for row in summarize(report)}
    assert rows["tiered"].stream_speedup == 2.0
    assert rows["tiered"].evm_speedup == 2.5 / 1.7
    met = targets(list(rows.values()))
    assert list(met.values()) == [True, None]
    top = contract_breakdown(report)
    assert [item["contract"] for item in top] == ["hot", "cold"]
    assert top[0]["transactions"] == 2
    assert top[0]["evm_seconds"] == {"pyevm": 2.0, "tiered": 1.2}
