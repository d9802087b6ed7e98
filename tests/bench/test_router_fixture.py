"""scripts/router_fixture.py derives a bench fixture of nested frames on one token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evmkiln.bench.case import load_case
from evmkiln.bench.engines import KilnEngine, PyEvmEngine

SCRIPT = Path(__file__).parents[2] / "scripts" / "router_fixture.py"


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_the_derived_fixture_runs_alike_on_pyevm_and_the_backends(
    fixtures_root: Path, tmp_path: Path, backend: str
) -> None:
    out = tmp_path / "weth_router.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(fixtures_root / "bench" / "weth.json"), str(out)],
        check=True,
    )
    case = load_case(out, {})
    expected, _ = PyEvmEngine().prepare(case).run()
    assert expected.outcome == "success"
    assert int.from_bytes(expected.output, "big") == 4 * 1000  # 0x01's balance after four transfers
    assert expected.logs is not None and len(expected.logs) == 4  # one Transfer event each
    runner = KilnEngine(backend).prepare(case)
    for _ in range(3):  # the later runs meet the tables the earlier frames of the run kept
        assert runner.run()[0] == expected
