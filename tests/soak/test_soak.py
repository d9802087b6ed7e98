"""Soak runs: results checked against py-evm, caches bounded, memory sampled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evmkiln.backend_llvm import LlvmBackend
from evmkiln.cli.main import app
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.process_memory import process_rss_bytes
from evmkiln.soak import soak
from evmkiln.soak.contracts import FAMILIES, contract_code


def test_contracts_are_distinct_and_of_every_family() -> None:
    codes = [contract_code(i, 40) for i in range(40)]
    assert len(set(codes)) == 40
    assert len(FAMILIES) == 4
    for code in codes:
        lower_bytecode(code)  # every contract is valid code for the compiler


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
def test_a_short_soak_matches_pyevm_with_a_small_cache(backend: str) -> None:
    result = soak(
        backend, contracts=24, transactions=240, cache_size=6, checkpoints=4, check_every=6
    )
    assert result.checked == 40
    assert result.mismatches == []
    assert result.compile_failures == 0
    assert len(result.checkpoints) == 4
    assert all(point.cached_codes <= 6 for point in result.checkpoints)
    assert result.checkpoints[-1].codes_compiled > 24  # evicted codes came back
    assert all(point.rss_bytes > 0 for point in result.checkpoints)


def test_the_llvm_backend_keeps_a_bounded_number_of_executables() -> None:
    backend = LlvmBackend(max_cached=2)
    functions = [lower_bytecode(contract_code(i, 8)) for i in range(4)]
    first = backend.compile(functions[0])
    assert backend.compile(functions[0]) is first
    for function in functions[1:]:
        backend.compile(function)
    assert len(backend._cache) == 2
    assert backend.compile(functions[0]) is not first  # dropped, compiled again


def test_rss_of_a_missing_process_is_zero() -> None:
    assert process_rss_bytes() > 0
    assert process_rss_bytes(2**22 + 12345) == 0


def test_the_soak_command_reports_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    result = CliRunner().invoke(
        app,
        ["soak", "--backend", "ir", "--contracts", "8", "--transactions", "40",
         "--checkpoints", "2", "--check-every", "10", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "growth after the first quarter" in result.output
    report = json.loads(out.read_text())
    assert report["checked"] == 4
    assert len(report["checkpoints"]) == 2


def test_the_soak_command_fails_on_growth_past_the_limit(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["soak", "--backend", "ir", "--contracts", "8", "--transactions", "40",
         "--checkpoints", "4", "--max-growth-mb", "-1000"],
    )  # fmt: skip
    assert result.exit_code == 1
