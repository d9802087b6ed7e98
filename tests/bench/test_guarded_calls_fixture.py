"""scripts/guarded_calls_fixture.py: calls to a contract guarded by a transient lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from transient_reads import count_transient_reads

from evmkiln.bench.case import load_case
from evmkiln.bench.engines import KilnEngine, PyEvmEngine

SCRIPT = Path(__file__).parents[2] / "scripts" / "guarded_calls_fixture.py"


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_the_fixture_runs_alike_and_the_lock_crosses_once(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every engine agrees; on the native backends only the first call's TLOAD of the
    lock asks the host: the later calls find it in the table the last one kept."""
    out = tmp_path / "guarded_calls.json"
    subprocess.run([sys.executable, str(SCRIPT), str(out), "--calls", "5"], check=True)
    case = load_case(out, {})
    expected, _ = PyEvmEngine().prepare(case).run()
    assert expected.outcome == "success"
    runner = KilnEngine(backend).prepare(case)
    assert runner.run()[0] == expected  # compiles the two contracts
    reads = count_transient_reads(monkeypatch)
    for _ in range(2):
        reads.clear()
        assert runner.run()[0] == expected
        assert reads == [0]
