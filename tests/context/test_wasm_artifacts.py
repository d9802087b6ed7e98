"""The wasm backend's artifacts of real contracts (bench fixtures): loaded, never compiled.

What every AOT backend must do with artifacts is tested in ``test_artifacts.py``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from artifact_checks import run_fresh_process
from eth.vm.forks.cancun import CancunVM

from evmkiln.codegen.backend import CompileOptions
from evmkiln.context import make_vm_class
from evmkiln.context.artifact_store import compile_artifacts
from evmkiln.context.registry import get_backend
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.statetest.execution import Outcome, apply_transaction

pytest.importorskip("evmkiln.backend_wasm")

HERE = Path(__file__).resolve().parent
BENCH = ("weth", "erc20_transfer")


def _bench_outcome(vm_class: Any, path: Path) -> Outcome:
    (fixture,) = load_bench_file(path).root.values()
    return apply_transaction(vm_class, fixture.env, fixture.pre, fixture.transaction[0])


def _comparable(o: Outcome) -> tuple[object, ...]:
    return (o.rejected, o.success, o.error, o.gas_used, o.output, o.logs, o.state_root)


_BENCH_ARTIFACTS: dict[Path, tuple[Path, list[Path]]] = {}
"""Compiled once per fixtures root for the tests below (compiling takes seconds)."""


@pytest.fixture
def bench_artifacts(
    fixtures_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[Path]]:
    if fixtures_root not in _BENCH_ARTIFACTS:
        _BENCH_ARTIFACTS[fixtures_root] = _compile_bench(fixtures_root, tmp_path_factory)
    return _BENCH_ARTIFACTS[fixtures_root]


def _compile_bench(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    files = [root / "bench" / f"{name}.json" for name in BENCH]
    codes = []
    for path in files:
        (fixture,) = load_bench_file(path).root.values()
        codes += [bytes(account.code) for account in fixture.pre.values() if account.code]
    directory = tmp_path_factory.mktemp("wasm-bench-artifacts")
    results = compile_artifacts(
        get_backend("wasm"), codes, directory, fork="cancun", options=CompileOptions()
    )
    assert all(r.path is not None for r in results), results
    return directory, files


@pytest.mark.fixtures
def test_bench_fixtures_run_from_artifacts_like_pyevm(
    bench_artifacts: tuple[Path, list[Path]],
) -> None:
    directory, files = bench_artifacts
    vm_class = make_vm_class(
        "wasm",
        artifacts=directory,
        strict_aot=True,
        interpret_on_compile_error=False,
        fork="cancun",
    )
    stats = vm_class.stats  # type: ignore[attr-defined]
    for path in files:
        expected = _bench_outcome(CancunVM, path)
        assert expected.rejected is None and expected.success, path.stem
        assert _comparable(_bench_outcome(vm_class, path)) == _comparable(expected), path.stem
        assert _comparable(_bench_outcome(vm_class, path)) == _comparable(expected), path.stem
    assert stats.frames_run_aot >= 2 * len(files)
    assert stats.frames_compiled == 0


FRESH = textwrap.dedent(
    """
    import json, sys, time
    import wasmtime
    from eth.vm.forks.cancun import CancunVM
    from evmkiln.backend_wasm import aot, backend
    from evmkiln.context import make_vm_class
    from evmkiln.fixtures.loading import load_bench_file
    from evmkiln.statetest.execution import apply_transaction

    def refuse(*args, **kwargs):
        raise AssertionError("compiled")

    aot.translate = backend.translate = wasmtime.Module.__init__ = refuse
    backend.WasmBackend.compile = refuse
    start = time.perf_counter()
    vm_class = make_vm_class("wasm", artifacts=sys.argv[1], strict_aot=True, fork="cancun")
    seconds = time.perf_counter() - start
    same = []
    for path in sys.argv[2:]:
        (fixture,) = load_bench_file(path).root.values()
        got = apply_transaction(vm_class, fixture.env, fixture.pre, fixture.transaction[0])
        want = apply_transaction(CancunVM, fixture.env, fixture.pre, fixture.transaction[0])
        same.append(
            (got.success, got.gas_used, got.output, got.logs, got.state_root)
            == (want.success, want.gas_used, want.output, want.logs, want.state_root)
        )
    stats = vm_class.stats
    print(json.dumps({
        "same": same, "seconds": seconds, "aot_loaded": stats.aot_loaded,
        "frames_run_aot": stats.frames_run_aot, "frames_compiled": stats.frames_compiled,
    }))
    """
)


@pytest.mark.fixtures
def test_fresh_process_runs_bench_artifacts_strictly(
    bench_artifacts: tuple[Path, list[Path]],
) -> None:
    directory, files = bench_artifacts
    report = run_fresh_process(FRESH, [str(directory), *map(str, files)], HERE, timeout=300)
    assert report["same"] == [True] * len(files)
    assert report["aot_loaded"] == len(files)
    assert report["frames_run_aot"] >= len(files) and report["frames_compiled"] == 0
    print(f"\nfresh process: {report['aot_loaded']} artifacts loaded in {report['seconds']:.4f} s")
