"""scripts/guarded_calls_fixture.py: calls to a contract guarded by a transient lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evmkiln.bench.case import load_case
from evmkiln.bench.engines import KilnEngine, PyEvmEngine
from evmkiln.context.pyevm_host import PyEvmHost

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
    reads: list[int] = []
    real = PyEvmHost.get_transient

    def counted(host: PyEvmHost, address: bytes, slot: int) -> int:
        reads.append(slot)
        return real(host, address, slot)

    monkeypatch.setattr(PyEvmHost, "get_transient", counted)
    for _ in range(2):
        reads.clear()
        assert runner.run()[0] == expected
        assert reads == [0]
