"""VM classes running the wasm backend's artifacts: loaded, never compiled, results as py-evm's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from message_harness import SENDER, A, B, apply_message

from evmkiln.codegen.artifact_errors import ArtifactMismatchError
from evmkiln.codegen.backend import CompileOptions
from evmkiln.context import make_vm_class
from evmkiln.context.artifact_store import AotRequiredError, code_hash, compile_artifacts
from evmkiln.context.registry import get_backend
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.statetest.execution import Outcome, apply_transaction

pytest.importorskip("evmkiln.backend_wasm")

HERE = Path(__file__).resolve().parent
BENCH = ("weth", "erc20_transfer")

# A: SSTORE(0, 2**(CALLVALUE+5)), CALL B, return B's output.  B: return 40 bytes.
CALLEE = bytes.fromhex("7f" + bytes(range(0xA0, 0xC0)).hex() + "5f5260285ff3")
CALLER = bytes.fromhex(
    "346005016002" + "0a5f55"  # SSTORE(0, 2 ** (CALLVALUE + 5))
    "5f5f5f5f5f73" + B.hex() + "5af150"  # CALL(gas, B, 0, 0, 0, 0, 0); POP
    "3d5f5f3e3d5ff3"  # RETURNDATACOPY; RETURN(0, RETURNDATASIZE)
)
ACCOUNTS = {SENDER: {"balance": 10**18}, A: {"code": CALLER}, B: {"code": CALLEE}}


@pytest.fixture(scope="module")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wasm-artifacts")
    results = compile_artifacts(
        get_backend("wasm"), [CALLER, CALLEE], directory, fork="cancun", options=CompileOptions()
    )
    assert all(r.path is not None for r in results), results
    return directory


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("compiled")


def test_vm_runs_wasm_artifacts_without_compiling(
    artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm_class = make_vm_class("wasm", artifacts=artifacts_dir)
    monkeypatch.setattr(vm_class.backend, "compile", refuse)  # type: ignore[attr-defined]
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert stats.aot_loaded == 2
    actual = apply_message(vm_class, ACCOUNTS, value=3)
    assert actual == apply_message(CancunVM, ACCOUNTS, value=3)
    assert actual == apply_message(make_vm_class("wasm"), ACCOUNTS, value=3)
    # A second transaction reuses the loaded contracts' instances.
    assert apply_message(vm_class, ACCOUNTS, value=4) == apply_message(CancunVM, ACCOUNTS, value=4)
    assert stats.frames_run_aot == stats.frames_run_compiled == 4
    assert stats.frames_compiled == 0 and stats.compile_failures == 0


def test_lazy_loading_finds_wasm_artifacts_by_name(artifacts_dir: Path) -> None:
    """``preload=False`` looks artifacts up as ``<hash><suffix>``: the names ``save`` writes."""
    vm_class = make_vm_class("wasm", artifacts=artifacts_dir, preload=False, strict_aot=True)
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert stats.aot_loaded == 0
    assert apply_message(vm_class, ACCOUNTS) == apply_message(CancunVM, ACCOUNTS)
    assert (stats.aot_loaded, stats.frames_run_aot, stats.frames_compiled) == (2, 2, 0)


def test_code_without_artifact_is_still_compiled(artifacts_dir: Path) -> None:
    vm_class = make_vm_class("wasm", artifacts=artifacts_dir)
    accounts = ACCOUNTS | {B: {"code": CALLEE + b"\x00"}}
    assert apply_message(vm_class, accounts) == apply_message(CancunVM, accounts)
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert (stats.frames_run_aot, stats.frames_compiled) == (1, 1)


def test_strict_mode_refuses_to_compile(artifacts_dir: Path) -> None:
    vm_class = make_vm_class("wasm", artifacts=artifacts_dir, strict_aot=True)
    assert apply_message(vm_class, ACCOUNTS) == apply_message(CancunVM, ACCOUNTS)
    other = CALLEE + b"\x00"
    with pytest.raises(AotRequiredError, match=code_hash(other).hex()):
        apply_message(vm_class, ACCOUNTS | {B: {"code": other}})


def test_artifacts_built_with_other_options_are_refused(artifacts_dir: Path) -> None:
    with pytest.raises(ArtifactMismatchError) as info:
        make_vm_class("wasm", artifacts=artifacts_dir, gas_metering=False)
    assert info.value.field == "options"


def test_other_backends_files_are_left_alone(artifacts_dir: Path, tmp_path: Path) -> None:
    """Backends may share a directory: the wasm backend loads only its own suffix."""
    for path in artifacts_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / f"{code_hash(CALLER).hex()}.llvm.json").write_text("not wasm metadata")
    vm_class = make_vm_class("wasm", artifacts=tmp_path)
    assert vm_class.stats.aot_loaded == 2  # type: ignore[attr-defined]


# -- bench fixtures ----------------------------------------------------------------


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
        "wasm", artifacts=directory, strict_aot=True, interpret_on_compile_error=False
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
    vm_class = make_vm_class("wasm", artifacts=sys.argv[1], strict_aot=True)
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
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", FRESH, str(directory), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["same"] == [True] * len(files)
    assert report["aot_loaded"] == len(files)
    assert report["frames_run_aot"] >= len(files) and report["frames_compiled"] == 0
    print(f"\nfresh process: {report['aot_loaded']} artifacts loaded in {report['seconds']:.4f} s")
