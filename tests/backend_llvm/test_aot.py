"""Ahead-of-time artifacts of the LLVM backend: save, load elsewhere, refuse what does not fit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak
from llvm_harness import LLVM, REFERENCE, Outcome, asm, push, run

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.aot import read_metadata
from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import AotBackend, CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode

HERE = Path(__file__).resolve().parent

# RETURN of 2**10 ** 5 + 7 // 3, a loop summing calldata words, and a halt.
PROGRAMS: dict[str, bytes] = {
    "exp_div": asm(
        push(5),
        push(10),
        push(2),
        0x0A,
        0x0A,
        push(3),
        push(7),
        0x04,
        0x01,
        push(0),
        0x52,
        push(32),
        push(0),
        0xF3,
    ),
    "calldata_loop": asm(
        push(0),
        push(0),  # acc, i
        0x5B,  # loop at pc 2: [acc, i]
        0x80,
        0x36,
        0x11,
        0x15,
        push(22),
        0x57,  # i >= size -> exit (pc 22)
        0x80,
        0x35,
        0x82,
        0x01,
        0x91,
        0x50,
        push(32),
        0x01,
        push(2),
        0x56,
        0x5B,
        0x50,
        push(0),
        0x52,
        push(32),
        push(0),
        0xF3,
    ),
    "invalid": asm(push(1), 0xFE),
}
CALLDATA = b"".join(i.to_bytes(32, "big") for i in (3, 1 << 200, 2**256 - 1))


def outcome(executable: Any, code: bytes) -> Outcome:
    return run(executable, code, 100_000, CALLDATA, b"")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("artifacts")
    return {
        name: LLVM.save(lower_bytecode(code), directory, code_hash=keccak(code), fork="cancun")
        for name, code in PROGRAMS.items()
    }


def copy_artifact(meta_path: Path, directory: Path) -> Path:
    """A private copy of one artifact (metadata and library) to alter."""
    meta = read_metadata(meta_path)
    for name in (meta_path.name, meta.library):
        (directory / name).write_bytes((meta_path.parent / name).read_bytes())
    return directory / meta_path.name


def test_llvm_backend_is_an_aot_backend() -> None:
    assert isinstance(LLVM, AotBackend)
    assert LLVM.capabilities().aot


def test_metadata_describes_the_build(artifacts: dict[str, Path]) -> None:
    code = PROGRAMS["exp_div"]
    meta = read_metadata(artifacts["exp_div"])
    assert meta.code_hash == "0x" + keccak(code).hex()
    assert meta.backend == "llvm" and meta.fork == "cancun"
    assert meta.symbol == lower_bytecode(code).name
    assert meta.options.opt_level == 2 and meta.options.gas_metering
    assert meta.target_triple and meta.cpu_name and meta.cpu_features and meta.llvm_version
    lib = artifacts["exp_div"].parent / meta.library
    assert lib.stat().st_size == meta.library_size


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_loaded_artifact_runs_like_jit_and_reference(name: str, artifacts: dict[str, Path]) -> None:
    code = PROGRAMS[name]
    function = lower_bytecode(code)
    loaded = LLVM.load(artifacts[name], fork="cancun")
    assert loaded.code_hash == keccak(code)
    expected = outcome(REFERENCE.compile(function), code)
    assert outcome(LLVM.compile(function), code) == expected
    assert outcome(loaded.executable, code) == expected


LOADER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from llvm_harness import run
    from evmkiln.backend_llvm import LlvmBackend, jit

    def refuse(*args, **kwargs):
        raise AssertionError("loading an artifact must not compile")

    jit.parse = jit.compile_module = refuse
    backend = LlvmBackend()
    backend.compile = refuse
    calldata = bytes.fromhex(sys.argv[1])
    results, seconds = {}, []
    for arg in sys.argv[2:]:
        name, path, code = arg.split("=")
        start = time.perf_counter()
        loaded = backend.load(Path(path), fork="cancun")
        seconds.append(time.perf_counter() - start)
        o = run(loaded.executable, bytes.fromhex(code), 100_000, calldata, b"")
        results[name] = [o.result, o.output.hex(), o.gas, o.memory.hex(), o.refund]
    print(json.dumps({"results": results, "seconds": seconds}))
    """
)


def test_fresh_process_loads_without_compiling(artifacts: dict[str, Path]) -> None:
    args = [f"{name}={artifacts[name]}={PROGRAMS[name].hex()}" for name in sorted(PROGRAMS)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", LOADER, CALLDATA.hex(), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name, code in PROGRAMS.items():
        want = outcome(LLVM.compile(lower_bytecode(code)), code)
        got = report["results"][name]
        assert got == [want.result, want.output.hex(), want.gas, want.memory.hex(), want.refund]
    # The first load also hashes the compiler's sources (once per process).
    print(f"\nfresh-process load times (ms): {[round(s * 1e3, 3) for s in report['seconds']]}")


def test_load_is_fast(artifacts: dict[str, Path]) -> None:
    paths = list(artifacts.values())
    LLVM.load(paths[0], fork="cancun")  # once-per-process work (fingerprint, host query)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            LLVM.load(path, fork="cancun")
    per_load = (time.perf_counter() - start) / (rounds * len(paths))
    print(f"\nload time per contract: {per_load * 1e3:.3f} ms")
    assert per_load < 0.005  # the target is 1 ms; the bound leaves room for loaded CI hosts


def test_loading_does_not_compile(
    artifacts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled")

    monkeypatch.setattr(jit, "parse", refuse)
    monkeypatch.setattr(jit, "compile_module", refuse)
    loaded = LLVM.load(artifacts["exp_div"], fork="cancun")
    assert outcome(loaded.executable, PROGRAMS["exp_div"]).result == "RETURN"


# -- refusals ---------------------------------------------------------------------


def edit_metadata(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    for key, value in changes.items():
        data[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fork", "prague"),
        ("evmkiln_version", "0.0.1"),
        ("compiler_fingerprint", "0" * 64),
        ("llvmlite_version", "0.1.0"),
        ("llvm_version", "1.0.0"),
        ("target_triple", "aarch64-unknown-linux-gnu"),
        ("cpu_name", "pentium4"),
        ("cpu_features", "+sse2"),
        ("options", {"opt_level": 0, "gas_metering": True, "extra": {}}),
        ("format_version", 99),
    ],
)
def test_mismatching_metadata_names_the_field(
    field: str, value: Any, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    path = copy_artifact(artifacts["exp_div"], tmp_path)
    edit_metadata(path, **{field: value})
    with pytest.raises(ArtifactMismatchError, match=field) as info:
        LLVM.load(path, fork="cancun")
    assert info.value.field == field


def test_loading_for_another_fork_or_options_is_refused(artifacts: dict[str, Path]) -> None:
    with pytest.raises(ArtifactMismatchError) as info:
        LLVM.load(artifacts["exp_div"], fork="prague")
    assert info.value.field == "fork"
    with pytest.raises(ArtifactMismatchError) as info:
        LLVM.load(artifacts["exp_div"], fork="cancun", options=CompileOptions(gas_metering=False))
    assert info.value.field == "options"


def truncate_library(meta: Path) -> None:
    lib = meta.parent / read_metadata(meta).library
    lib.write_bytes(lib.read_bytes()[:1000])


def flip_library_byte(meta: Path) -> None:
    lib = meta.parent / read_metadata(meta).library
    data = bytearray(lib.read_bytes())
    data[len(data) // 2] ^= 0xFF
    lib.write_bytes(bytes(data))


def not_elf(meta: Path) -> None:
    lib = meta.parent / read_metadata(meta).library
    data = b"garbage!" + lib.read_bytes()[8:]
    lib.write_bytes(data)
    edit_metadata(meta, library_size=len(data))


CORRUPTIONS = {
    "truncated library": (truncate_library, "truncated"),
    "altered library": (flip_library_byte, "SHA-256"),
    "not a library": (not_elf, "ELF"),
    "missing library": (lambda m: (m.parent / read_metadata(m).library).unlink(), "cannot read"),
    "truncated metadata": (lambda m: m.write_bytes(m.read_bytes()[:100]), "invalid metadata"),
    "metadata not json": (lambda m: m.write_bytes(b"\x00\xff" * 10), "invalid metadata"),
    "library outside the directory": (
        lambda m: edit_metadata(m, library="../../etc/passwd"),
        "invalid metadata: library",
    ),
    "another backend": (lambda m: edit_metadata(m, backend="wasm"), "invalid metadata: backend"),
    "huge metadata": (lambda m: m.write_bytes(b" " * (1 << 17)), "larger than"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_artifact_is_refused(case: str, artifacts: dict[str, Path], tmp_path: Path) -> None:
    corrupt, message = CORRUPTIONS[case]
    path = copy_artifact(artifacts["calldata_loop"], tmp_path)
    corrupt(path)
    with pytest.raises(ArtifactCorruptError, match=message):
        LLVM.load(path, fork="cancun")


def test_missing_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactCorruptError, match="cannot read metadata"):
        LLVM.load(tmp_path / "nothing.llvm.json", fork="cancun")
