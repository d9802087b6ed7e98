"""Ahead-of-time artifacts of the LLVM backend: save, load elsewhere, refuse what does not fit."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from artifact_checks import (
    assert_corrupt_refused,
    assert_mismatch_refused,
    assert_other_fork_and_options_refused,
    common_corruptions,
    copy_artifact,
    edit_metadata,
    fresh_process_loads,
)
from eth_hash.auto import keccak
from llvm_harness import LLVM, REFERENCE, Outcome, asm, push, run

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.aot import read_metadata
from evmkiln.codegen.artifact_errors import ArtifactCorruptError
from evmkiln.codegen.backend import AotBackend
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
    from artifact_checks import load_each
    from llvm_harness import run
    from evmkiln.backend_llvm import LlvmBackend, jit

    def refuse(*args, **kwargs):
        raise AssertionError("loading an artifact must not compile")

    def outcome(executable, code, calldata):
        o = run(executable, code, 100_000, calldata, b"")
        return [o.result, o.output.hex(), o.gas, o.memory.hex(), o.refund]

    jit.parse = jit.compile_module = refuse
    backend = LlvmBackend()
    backend.compile = refuse
    load_each(backend, outcome)
    """
)


def test_fresh_process_loads_without_compiling(artifacts: dict[str, Path]) -> None:
    results = fresh_process_loads(LOADER, artifacts, PROGRAMS, CALLDATA, HERE)
    for name, code in PROGRAMS.items():
        want = outcome(LLVM.compile(lower_bytecode(code)), code)
        got = results[name]
        assert got == [want.result, want.output.hex(), want.gas, want.memory.hex(), want.refund]


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
    assert_mismatch_refused(LLVM, artifacts["exp_div"], tmp_path, field, value)


def test_loading_for_another_fork_or_options_is_refused(artifacts: dict[str, Path]) -> None:
    assert_other_fork_and_options_refused(LLVM, artifacts["exp_div"])


CORRUPTIONS = common_corruptions("library", "not an ELF shared library", other_backend="wasm")


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_artifact_is_refused(case: str, artifacts: dict[str, Path], tmp_path: Path) -> None:
    assert_corrupt_refused(LLVM, artifacts["calldata_loop"], tmp_path, CORRUPTIONS[case])


@pytest.mark.parametrize("symbol", ["abort", "exit", "memset"])
def test_a_symbol_from_another_library_is_refused(
    symbol: str, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """``dlsym`` also finds the C library's functions through the artifact's handle:
    metadata naming one must not have it run as the contract (``abort`` ended the
    process)."""
    path = copy_artifact(artifacts["calldata_loop"], tmp_path)
    edit_metadata(path, symbol=symbol)
    with pytest.raises(ArtifactCorruptError, match=f"library has no symbol {symbol}"):
        LLVM.load(path, fork="cancun")


@pytest.mark.parametrize("move", ["hard link", "renamed directory"])
def test_a_loaded_library_reached_by_another_path_loads(move: str, tmp_path: Path) -> None:
    """The loader hands back the library it already has for the same file under the
    name it first opened: the symbol check compares objects, not paths."""
    code = bytes.fromhex("600160005260206000f3")
    first = tmp_path / "first"
    meta = LLVM.save(lower_bytecode(code), first, code_hash=keccak(code), fork="cancun")
    LLVM.load(meta, fork="cancun")
    second = tmp_path / "second"
    if move == "hard link":
        second.mkdir()
        for path in first.iterdir():
            os.link(path, second / path.name)
    else:
        first.rename(second)
    loaded = LLVM.load(second / meta.name, fork="cancun")
    assert loaded.code_hash == keccak(code)


def test_missing_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactCorruptError, match="cannot read metadata"):
        LLVM.load(tmp_path / "nothing.llvm.json", fork="cancun")
