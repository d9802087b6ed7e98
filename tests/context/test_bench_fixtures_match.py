"""Every bench fixture runs through evmkiln backends with py-evm's exact outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.context import make_vm_class
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.statetest.execution import Outcome, apply_transaction


def _outcome(vm_class: Any, path: Path) -> Outcome:
    (fixture,) = load_bench_file(path).root.values()
    return apply_transaction(vm_class, fixture.env, fixture.pre, fixture.transaction[0])


def _comparable(o: Outcome) -> tuple[object, ...]:
    return (o.rejected, o.success, o.error, o.gas_used, o.output, o.logs, o.state_root)


def _bench_files(fixtures_root: Path) -> list[Path]:
    return sorted((fixtures_root / "bench").glob("*.json"))


@pytest.mark.parametrize("backend", ["ir"])
def test_bench_fixtures_match_pyevm(fixtures_root: Path, backend: str) -> None:
    files = _bench_files(fixtures_root)
    assert files, "no bench fixtures found"
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    checked = []
    for path in files:
        expected = _outcome(CancunVM, path)
        actual = _outcome(vm_class, path)
        assert expected.rejected is None and expected.success, path.stem
        assert _comparable(actual) == _comparable(expected), path.stem
        checked.append(path.stem)
    assert checked == [p.stem for p in files]
