"""A fixture's results as a table and as JSON, with a fake engine that disagrees."""

from __future__ import annotations

import io
import json

from fakes import FakeEngine, case, observation
from rich.console import Console

from evmkiln.bench.engines import Engine
from evmkiln.bench.measure import SKIPPED, Settings
from evmkiln.bench.report import SCHEMA, format_ratio, results_json, results_table
from evmkiln.bench.session import ratio, run_fixture


def _render(table: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(table)
    return buffer.getvalue()


def _engines(llvm_gas: int) -> list[Engine]:
    return [
        FakeEngine("revm", observation(root=None), seconds=0.0001),
        FakeEngine("pyevm", observation(), seconds=0.1),
        FakeEngine("llvm", observation(gas=llvm_gas), seconds=0.01),
    ]


def test_fake_engine_disagreeing_on_gas_is_reported() -> None:
    result = run_fixture(case(), _engines(llvm_gas=49_999), Settings(repeat=2, budget=None))
    assert not result.agree()
    assert [(d.engine, d.field) for d in result.disagreements] == [("llvm", "gas used")]
    assert "DISAGREES" in _render(results_table([result]))


def test_table_and_json_shape() -> None:
    result = run_fixture(case(), _engines(llvm_gas=50_000), Settings(repeat=3, budget=None))
    assert result.agree()
    assert ratio(result, "pyevm", "llvm") == 10.0
    text = _render(results_table([result]))
    for column in ("fixture", "engine", "median", "py-evm / X", "revm / X", "compile"):
        assert column in text
    assert "10.0×" in text and "0.01×" in text

    data = results_json(
        [result], Settings(repeat=3), machine={"cpus": 2}, command="evmkiln bench", date="d"
    )
    json.dumps(data)  # serialisable as is
    assert data["schema"] == SCHEMA and data["agree"] is True
    (fixture,) = data["fixtures"]
    assert set(fixture) == {"name", "path", "parameters", "agree", "disagreements", "engines"}
    llvm = fixture["engines"]["llvm"]
    assert llvm["state"] == "ok" and llvm["samples_seconds"] == [0.01] * 3
    assert llvm["pyevm_over_this"] == 10.0
    assert llvm["result"]["gas_used"] == 50_000 and llvm["result"]["logs"] == 1


def test_skip_slow_skips_interpreters_on_heavy_fixtures_and_says_why() -> None:
    engines: list[Engine] = [
        FakeEngine("revm", observation(gas=10**9, root=None)),
        FakeEngine("pyevm", observation(gas=10**9)),
        FakeEngine("llvm", observation(gas=10**9)),
    ]
    result = run_fixture(case(), engines, Settings(repeat=1, budget=None, skip_slow=True))
    assert result.measurements["pyevm"].state == SKIPPED
    assert result.measurements["llvm"].state == "ok"
    assert result.agree()
    text = _render(results_table([result]))
    assert "SKIPPED" in text and "--skip-slow" in text


def test_format_ratio() -> None:
    assert format_ratio(None) == "-"
    assert format_ratio(123.4) == "123.4×"
    assert format_ratio(0.00123) == "0.0012×"


def test_compile_spread_per_kib_over_contracts_of_a_kib_or_more() -> None:
    from types import SimpleNamespace

    from evmkiln.bench.compile_timing import CompileLog, ContractCompile
    from evmkiln.bench.report import compile_spread, compile_table

    def log(*contracts: ContractCompile) -> SimpleNamespace:
        return SimpleNamespace(compile_log=CompileLog(contracts=list(contracts)))

    results = [
        SimpleNamespace(
            case=SimpleNamespace(name="a"),
            measurements={
                "llvm": log(
                    ContractCompile("evm_1", 2048, 0.1, 0.9),  # 0.5 s per KiB
                    ContractCompile("evm_2", 100, 0.0, 5.0),  # under a KiB: left out
                    ContractCompile("evm_3", 4096, 0.2, None),  # failed: left out
                ),
                "pyevm": SimpleNamespace(compile_log=None),
            },
        ),
        SimpleNamespace(
            case=SimpleNamespace(name="b"),
            measurements={"llvm": log(ContractCompile("evm_4", 1024, 0.5, 1.5))},  # 2 s per KiB
        ),
    ]
    spread = compile_spread(results)  # type: ignore[arg-type]
    assert spread == {"llvm": (0.5, 2.0)}
    text = _render(compile_table(results))  # type: ignore[arg-type]
    assert "per KiB" in text and "llvm 4.0x" in text


def test_a_case_is_fitted_to_its_fork() -> None:
    import dataclasses

    from fakes import case as fake_case

    from evmkiln.bench.case import fit_to_fork

    spec = dataclasses.replace(fake_case().spec, gas_limit=2**63 - 1)
    same, note = fit_to_fork(spec, "cancun")
    assert same is spec and note is None
    capped, note = fit_to_fork(spec, "osaka")
    assert capped.gas_limit == 2**24 and note is not None and "EIP-7825" in note
    small = dataclasses.replace(spec, gas_limit=1_000_000)
    assert fit_to_fork(small, "osaka") == (small, None)


def test_revm_is_timed_but_not_compared_after_cancun() -> None:
    """pyrevm's revm predates Prague's and Osaka's rules: on them it is only timed."""
    import dataclasses

    from evmkiln.bench.session import REVM_NOT_COMPARED

    engines: list[Engine] = [
        FakeEngine("revm", observation(gas=12_345, root=None), seconds=0.0001),
        FakeEngine("pyevm", observation(), seconds=0.1),
    ]
    osaka = run_fixture(dataclasses.replace(case(), fork="osaka"), engines, Settings(repeat=1))
    assert osaka.agree()
    assert any(REVM_NOT_COMPARED in note for note in osaka.measurements["revm"].notes)
    cancun = run_fixture(case(), engines, Settings(repeat=1))
    assert [(d.engine, d.field) for d in cancun.disagreements] == [("revm", "gas used")]
