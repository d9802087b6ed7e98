"""VM classes that run artifacts compiled ahead of time, on every backend that writes them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from artifact_checks import run_fresh_process
from eth.vm.forks.cancun import CancunVM
from message_harness import CALLEE, CALLER, SENDER, A, B, apply_message

from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import CompileOptions
from evmkiln.context import make_vm_class
from evmkiln.context.artifact_store import AotRequiredError, code_hash, compile_artifacts
from evmkiln.context.registry import get_backend

HERE = Path(__file__).resolve().parent
AOT_BACKENDS = ("llvm", "wasm")
SUFFIXES = {"llvm": ".llvm.json", "wasm": ".wasm.json"}

ACCOUNTS = {SENDER: {"balance": 10**18}, A: {"code": CALLER}, B: {"code": CALLEE}}


@pytest.fixture(scope="module", params=AOT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    pytest.importorskip(f"evmkiln.backend_{name}")
    return name


@pytest.fixture(scope="module")
def artifacts_dir(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp(f"{backend}-artifacts")
    results = compile_artifacts(
        get_backend(backend),
        [CALLER, CALLEE, CALLER],
        directory,
        fork="cancun",
        options=CompileOptions(),
    )
    assert [r.code_hash for r in results] == [code_hash(CALLER), code_hash(CALLEE)]
    assert all(r.path is not None for r in results), results
    return directory


def copy_dir(source: Path, target: Path) -> Path:
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_vm_runs_artifacts_without_compiling(
    backend: str, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm_class = make_vm_class(backend, artifacts=artifacts_dir, fork="cancun")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled")

    monkeypatch.setattr(vm_class.backend, "compile", refuse)  # type: ignore[attr-defined]
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert stats.aot_loaded == 2
    actual = apply_message(vm_class, ACCOUNTS, value=3)
    assert actual == apply_message(CancunVM, ACCOUNTS, value=3)
    assert actual == apply_message(make_vm_class(backend, fork="cancun"), ACCOUNTS, value=3)
    # A second transaction runs the loaded contracts again (the wasm backend's instances reused).
    assert apply_message(vm_class, ACCOUNTS, value=4) == apply_message(CancunVM, ACCOUNTS, value=4)
    assert stats.frames_run_aot == stats.frames_run_compiled == 4
    assert stats.frames_compiled == 0 and stats.compile_failures == 0


def test_code_without_artifact_is_still_compiled(backend: str, artifacts_dir: Path) -> None:
    vm_class = make_vm_class(backend, artifacts=artifacts_dir, fork="cancun")
    accounts = ACCOUNTS | {B: {"code": CALLEE + b"\x00"}}
    assert apply_message(vm_class, accounts) == apply_message(CancunVM, accounts)
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert (stats.frames_run_aot, stats.frames_compiled) == (1, 1)


def test_strict_mode_refuses_to_compile(backend: str, artifacts_dir: Path) -> None:
    vm_class = make_vm_class(backend, artifacts=artifacts_dir, strict_aot=True, fork="cancun")
    assert apply_message(vm_class, ACCOUNTS) == apply_message(CancunVM, ACCOUNTS)
    other = CALLEE + b"\x00"
    with pytest.raises(AotRequiredError, match=code_hash(other).hex()):
        apply_message(vm_class, ACCOUNTS | {B: {"code": other}})


@pytest.mark.parametrize("options", [{"opt_level": 1}, {"gas_metering": False}])
def test_artifacts_built_with_other_options_are_refused(
    backend: str, artifacts_dir: Path, options: dict[str, object]
) -> None:
    with pytest.raises(ArtifactMismatchError) as info:
        make_vm_class(backend, artifacts=artifacts_dir, fork="cancun", **options)  # type: ignore[arg-type]
    assert info.value.field == "options"


def test_lazy_loading_finds_artifacts_by_name(backend: str, artifacts_dir: Path) -> None:
    """``preload=False`` looks artifacts up as ``<hash><suffix>``: the names ``save`` writes."""
    vm_class = make_vm_class(
        backend, artifacts=artifacts_dir, preload=False, strict_aot=True, fork="cancun"
    )
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert stats.aot_loaded == 0
    assert apply_message(vm_class, ACCOUNTS) == apply_message(CancunVM, ACCOUNTS)
    assert (stats.aot_loaded, stats.frames_run_aot, stats.frames_compiled) == (2, 2, 0)


def test_lazy_loading_refuses_a_truncated_payload_at_first_use(
    backend: str, artifacts_dir: Path, tmp_path: Path
) -> None:
    copy_dir(artifacts_dir, tmp_path)
    (payload,) = (
        path
        for path in tmp_path.glob(f"{code_hash(CALLEE).hex()}.*")
        if not path.name.endswith(SUFFIXES[backend])
    )
    payload.write_bytes(payload.read_bytes()[:100])
    vm_class = make_vm_class(backend, artifacts=tmp_path, preload=False, fork="cancun")
    with pytest.raises(ArtifactCorruptError, match="truncated"):
        apply_message(vm_class, ACCOUNTS)
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert (stats.aot_loaded, stats.frames_compiled) == (1, 0)


def test_other_backends_files_are_left_alone(
    backend: str, artifacts_dir: Path, tmp_path: Path
) -> None:
    """Backends may share a directory: each loads only its own suffix."""
    copy_dir(artifacts_dir, tmp_path)
    for other, suffix in SUFFIXES.items():
        if other != backend:
            (tmp_path / f"{code_hash(CALLER).hex()}{suffix}").write_text(f"not {backend} metadata")
    vm_class = make_vm_class(backend, artifacts=tmp_path, fork="cancun")
    assert vm_class.stats.aot_loaded == 2  # type: ignore[attr-defined]


def test_strict_mode_needs_artifacts() -> None:
    with pytest.raises(ValueError, match="artifacts"):
        make_vm_class("llvm", strict_aot=True, fork="cancun")


def test_backend_without_aot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="ir backend cannot"):
        make_vm_class("ir", artifacts=tmp_path, fork="cancun")


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_vm_class("llvm", artifacts=tmp_path / "nowhere", fork="cancun")


FRESH = textwrap.dedent(
    """
    import json, sys
    from eth.vm.forks.cancun import CancunVM
    from message_harness import CALLEE, CALLER, SENDER, A, B, apply_message
    from evmkiln.context import make_vm_class

    vm_class = make_vm_class(sys.argv[1], artifacts=sys.argv[2], strict_aot=True, fork="cancun")
    accounts = {
        SENDER: {"balance": 10**18},
        A: {"code": bytes.fromhex(sys.argv[3])},
        B: {"code": bytes.fromhex(sys.argv[4])},
    }
    got = apply_message(vm_class, accounts, value=1)
    same = got == apply_message(CancunVM, accounts, value=1)
    stats = vm_class.stats
    print(json.dumps({
        "same": same, "output": got.output.hex(), "aot_loaded": stats.aot_loaded,
        "frames_run_aot": stats.frames_run_aot, "frames_compiled": stats.frames_compiled,
    }))
    """
)


def test_fresh_process_runs_artifacts_strictly(backend: str, artifacts_dir: Path) -> None:
    args = [backend, str(artifacts_dir), CALLER.hex(), CALLEE.hex()]
    report = run_fresh_process(FRESH, args, HERE)
    assert report["same"]
    assert report["output"] == bytes(range(0xA0, 0xC0)).hex() + "00" * 8
    assert (report["aot_loaded"], report["frames_run_aot"], report["frames_compiled"]) == (2, 2, 0)
