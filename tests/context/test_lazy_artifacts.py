"""Artifacts loaded on first use (``make_vm_class(artifacts=DIR, preload=False)``).

A stand-in AOT backend keeps these tests independent of any native backend:
its "artifact" is a JSON file holding the code, and loading it compiles with
the reference backend.  What is under test is the store's contract: list the
directory, load each artifact once and only when its code runs, and raise
(never skip) for an artifact that cannot be used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth.vm.forks.cancun import CancunVM
from message_harness import SENDER, A, B, apply_message

from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import (
    BackendCapabilities,
    CompileOptions,
    Executable,
    LoadedArtifact,
)
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.codegen.reference import ReferenceBackend
from evmkiln.context import make_vm_class
from evmkiln.context.artifact_store import LazyArtifacts, artifact_path, code_hash

CALLEE = bytes.fromhex("602a5f5260205ff3")  # return the word 42
# CALL(gas, B, 0, 0, 0, 0, 32); POP; RETURNDATACOPY; RETURN(0, RETURNDATASIZE)
CALLER = bytes.fromhex("60205f5f5f5f73" + B.hex() + "5af1503d5f5f3e3d5ff3")
ACCOUNTS = {SENDER: {"balance": 10**18}, A: {"code": CALLER}, B: {"code": CALLEE}}
SUFFIX = ".fake.json"


class FakeAotBackend:
    """The reference backend, with artifacts that are JSON files naming the code."""

    name = "fake-aot"
    artifact_suffix = SUFFIX

    def __init__(self) -> None:
        self.inner = ReferenceBackend()
        self.loads: list[Path] = []

    def capabilities(self) -> BackendCapabilities:
        return self.inner.capabilities()

    def compile(self, function: Function, options: CompileOptions | None = None) -> Executable:
        return self.inner.compile(function, options)

    def save(
        self,
        function: Function,
        directory: Path,
        *,
        code_hash: bytes,
        fork: str,
        options: CompileOptions | None = None,
    ) -> Path:
        raise NotImplementedError("tests write artifacts with write_artifact")

    def load(
        self, path: Path, *, fork: str, options: CompileOptions | None = None
    ) -> LoadedArtifact:
        self.loads.append(path)
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise ArtifactCorruptError(path, f"invalid JSON: {exc}") from None
        if data["fork"] != fork:
            raise ArtifactMismatchError(path, "fork", data["fork"], fork)
        code = bytes.fromhex(data["code"])
        return LoadedArtifact(code_hash(code), self.inner.compile(lower_bytecode(code)))


def write_artifact(directory: Path, code: bytes, *, fork: str = "cancun") -> Path:
    path = artifact_path(directory, code_hash(code), SUFFIX)
    path.write_text(json.dumps({"code": code.hex(), "fork": fork}))
    return path


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    write_artifact(tmp_path, CALLER)
    write_artifact(tmp_path, CALLEE)
    (tmp_path / f"{code_hash(CALLER).hex()}.other-backend.bin").write_bytes(b"\x00")
    return tmp_path


def test_artifacts_load_when_their_code_first_runs(artifacts: Path) -> None:
    backend = FakeAotBackend()
    timed: list[bytes] = []
    vm_class = make_vm_class(
        backend,
        artifacts=artifacts,
        preload=False,
        on_artifact_load=lambda digest, seconds: timed.append(digest),
        fork="cancun",
    )
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert backend.loads == [] and stats.aot_loaded == 0

    expected = apply_message(CancunVM, ACCOUNTS)
    assert apply_message(vm_class, ACCOUNTS) == expected
    assert apply_message(vm_class, ACCOUNTS) == expected
    assert timed == [code_hash(CALLER), code_hash(CALLEE)]
    assert len(backend.loads) == stats.aot_loaded == 2
    assert stats.frames_run_aot == stats.frames_run_compiled == 4
    assert stats.frames_compiled == 0


def test_code_without_artifact_is_compiled_or_refused(artifacts: Path) -> None:
    accounts = ACCOUNTS | {B: {"code": CALLEE + b"\x00"}}
    lazy = make_vm_class(FakeAotBackend(), artifacts=artifacts, preload=False, fork="cancun")
    assert apply_message(lazy, accounts) == apply_message(CancunVM, accounts)
    stats = lazy.stats  # type: ignore[attr-defined]
    assert (stats.frames_run_aot, stats.frames_compiled, stats.aot_loaded) == (1, 1, 1)

    strict = make_vm_class(
        FakeAotBackend(), artifacts=artifacts, preload=False, strict_aot=True, fork="cancun"
    )
    with pytest.raises(Exception, match="strict_aot forbids"):
        apply_message(strict, accounts)


def test_corrupt_artifact_raises_at_first_use_and_every_use_after(artifacts: Path) -> None:
    artifact_path(artifacts, code_hash(CALLEE), SUFFIX).write_text("{not json")
    backend = FakeAotBackend()
    vm_class = make_vm_class(
        backend, artifacts=artifacts, preload=False, fork="cancun"
    )  # only lists the files
    for _ in range(2):  # never skipped, so never silently recompiled
        with pytest.raises(ArtifactCorruptError, match="invalid JSON"):
            apply_message(vm_class, ACCOUNTS)
    assert vm_class.stats.frames_compiled == 0  # type: ignore[attr-defined]
    with pytest.raises(ArtifactCorruptError):  # the eager loader refuses the whole directory
        make_vm_class(backend, artifacts=artifacts, fork="cancun")


def test_mismatched_artifact_raises_at_first_use(artifacts: Path) -> None:
    write_artifact(artifacts, CALLEE, fork="prague")
    vm_class = make_vm_class(FakeAotBackend(), artifacts=artifacts, preload=False, fork="cancun")
    with pytest.raises(ArtifactMismatchError) as info:
        apply_message(vm_class, ACCOUNTS)
    assert info.value.field == "fork"


def test_artifact_holding_other_code_than_its_name_says(artifacts: Path) -> None:
    path = artifact_path(artifacts, code_hash(CALLEE), SUFFIX)
    path.write_text(json.dumps({"code": (CALLEE + b"\x00").hex(), "fork": "cancun"}))
    vm_class = make_vm_class(FakeAotBackend(), artifacts=artifacts, preload=False, fork="cancun")
    with pytest.raises(ArtifactCorruptError, match="not the code its name says"):
        apply_message(vm_class, ACCOUNTS)


def test_artifact_not_named_by_hash_is_refused_up_front(artifacts: Path) -> None:
    (artifacts / f"callee{SUFFIX}").write_text("{}")
    with pytest.raises(ArtifactCorruptError, match="not named"):
        LazyArtifacts(FakeAotBackend(), artifacts, fork="cancun", options=CompileOptions())


def test_a_key_error_inside_load_is_not_taken_for_a_missing_artifact(artifacts: Path) -> None:
    artifact_path(artifacts, code_hash(CALLEE), SUFFIX).write_text("{}")  # no "fork": KeyError
    store = LazyArtifacts(FakeAotBackend(), artifacts, fork="cancun", options=CompileOptions())
    assert len(store) == 2 and store.get(code_hash(b"\x00")) is None
    with pytest.raises(KeyError, match="fork"):
        store.get(code_hash(CALLEE))


def test_load_callback_needs_lazy_loading(artifacts: Path) -> None:
    with pytest.raises(ValueError, match="preload=False"):
        make_vm_class(FakeAotBackend(), artifacts=artifacts, on_artifact_load=print, fork="cancun")
