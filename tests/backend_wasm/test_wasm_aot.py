"""AOT artifacts of the wasm backend: save, load without compiling, refuse what does not fit."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from artifact_checks import (
    assert_corrupt_refused,
    assert_mismatch_refused,
    assert_other_fork_and_options_refused,
    common_corruptions,
    copy_artifact,
    edit_metadata,
    fresh_process_loads,
    run_fresh_process,
)
from eth_hash.auto import keccak
from wasm_compare import FakeHost, new_frame

from evmkiln.backend_wasm import WasmBackend, aot
from evmkiln.backend_wasm import backend as backend_module
from evmkiln.backend_wasm.aot import read_metadata
from evmkiln.backend_wasm.runtime import (
    ENGINE_SETTINGS,
    MEMORY_MODE,
    MEMORY_MODE_ENV,
    MEMORY_MODES,
)
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.codegen.artifact_errors import ArtifactCorruptError, ArtifactMismatchError
from evmkiln.codegen.backend import AotBackend, Executable
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.codegen.reference import ReferenceBackend

HERE = Path(__file__).resolve().parent
OTHER_MODE = "compact" if MEMORY_MODE == "reserved" else "reserved"
WASM = WasmBackend()
REFERENCE = ReferenceBackend()

PROGRAMS: dict[str, bytes] = {
    # RETURN (2 ** 10 ** 5 + 7 // 3) as one word.
    "exp_div": bytes.fromhex(
        "6005600a6002"  # PUSH 5, 10, 2
        + "0a0a"  # EXP, EXP
        + "6003600704"  # 7 // 3
        + "01"  # ADD
        + "5f5260205ff3"  # MSTORE(0); RETURN(0, 32)
    ),
    # Sum the calldata words in a loop, SSTORE and RETURN the sum.
    "calldata_loop": bytes.fromhex(
        "5f5f"  # acc, i
        + "5b80361115601656"  # loop (pc 2): if i >= CALLDATASIZE goto 22
        + "8035820191506020016002"
        + "56"  # acc += CALLDATALOAD(i); i += 32; goto 2
        + "5b50"  # 22: drop i
        + "805f55"  # SSTORE(0, acc)
        + "5f5260205ff3"  # RETURN the sum
    ),
    # MSTORE far out, LOG1, then an exceptional halt.
    "invalid": bytes.fromhex("60ff61100052" + "60206110006007a1" + "6001fe"),
}
CALLDATA = b"".join(i.to_bytes(32, "big") for i in (3, 1 << 200, 2**256 - 1))


def outcome(executable: Executable, code: bytes) -> tuple[object, ...]:
    """Everything a frame leaves behind: exit or halt, output, gas, memory, storage, logs."""
    host = FakeHost(WASM)
    frame = new_frame(host, code, 100_000, CALLDATA)
    try:
        result: object = executable.run(frame)
        gas: object = frame.gas
        memory: object = bytes(frame.memory)
    except ExceptionalHalt as halt:
        result, gas, memory = ("halt", halt.kind), None, None
    return (result, frame.output, gas, memory, host.storage, host.logs)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("wasm-artifacts")
    return {
        name: WASM.save(lower_bytecode(code), directory, code_hash=keccak(code), fork="cancun")
        for name, code in PROGRAMS.items()
    }


def module_file(meta: Path) -> Path:
    return meta.parent / read_metadata(meta).module


def replace_module(meta: Path, data: bytes) -> None:
    """Swap in other module bytes *with* matching size and hash: only wasmtime can object."""
    module_file(meta).write_bytes(data)
    edit_metadata(meta, module_size=len(data), module_sha256=hashlib.sha256(data).hexdigest())


def test_wasm_backend_is_an_aot_backend() -> None:
    assert isinstance(WASM, AotBackend)
    assert WASM.capabilities().aot
    assert WASM.artifact_suffix == ".wasm.json"


def test_metadata_describes_the_build(artifacts: dict[str, Path]) -> None:
    code = PROGRAMS["exp_div"]
    meta = read_metadata(artifacts["exp_div"])
    assert meta.code_hash == "0x" + keccak(code).hex()
    assert meta.backend == "wasm" and meta.fork == "cancun"
    assert meta.name == lower_bytecode(code).name and meta.code_size == len(code)
    assert meta.options.opt_level == 2 and meta.options.gas_metering
    assert meta.wasmtime_version and meta.engine.target and not meta.engine.pulley
    assert meta.engine.settings == ENGINE_SETTINGS
    assert meta.engine.settings["wasm_wide_arithmetic"] is True
    assert meta.engine.settings["cranelift_opt_level"] == "speed"
    module = module_file(artifacts["exp_div"])
    assert module.name.endswith(".wasm.cwasm")
    assert module.stat().st_size == meta.module_size
    assert module.read_bytes().startswith(b"\x7fELF")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_loaded_artifact_runs_like_jit_and_reference(name: str, artifacts: dict[str, Path]) -> None:
    code = PROGRAMS[name]
    function = lower_bytecode(code)
    loaded = WASM.load(artifacts[name], fork="cancun")
    assert loaded.code_hash == keccak(code)
    expected = outcome(REFERENCE.compile(function), code)
    assert outcome(WASM.compile(function), code) == expected
    assert outcome(loaded.executable, code) == expected
    assert outcome(loaded.executable, code) == expected  # its instance reused


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("loading an artifact must not compile")


def test_loading_does_not_compile(
    artifacts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aot, "translate_for", refuse)
    monkeypatch.setattr(aot, "encode_module", refuse)
    monkeypatch.setattr(backend_module, "translate_for", refuse)
    monkeypatch.setattr(backend_module, "encode_module", refuse)
    monkeypatch.setattr(WasmBackend, "compile", refuse)
    monkeypatch.setattr(wasmtime.Module, "__init__", refuse)  # Cranelift: wasm -> machine code
    monkeypatch.setattr(wasmtime.Module, "validate", refuse)
    for name, code in PROGRAMS.items():
        loaded = WASM.load(artifacts[name], fork="cancun")
        assert outcome(loaded.executable, code)[0] != "compiled"


LOADER = textwrap.dedent(
    """
    import wasmtime
    from artifact_checks import load_each
    from wasm_compare import FakeHost, new_frame
    from evmkiln.backend_wasm import WasmBackend, aot, backend

    def refuse(*args, **kwargs):
        raise AssertionError("loading an artifact must not compile")

    def outcome(executable, code, calldata):
        frame = new_frame(FakeHost(wasm), code, 100_000, calldata)
        try:
            result = int(executable.run(frame))
        except Exception as exc:
            result = type(exc).__name__
        gas = None if result == "ExceptionalHalt" else frame.gas
        return [result, frame.output.hex(), gas]

    aot.translate = aot.encode_module = backend.translate = backend.encode_module = refuse
    wasmtime.Module.__init__ = refuse
    wasm = WasmBackend()
    wasm.compile = refuse
    load_each(wasm, outcome)
    """
)


def test_fresh_process_loads_without_compiling(artifacts: dict[str, Path]) -> None:
    results = fresh_process_loads(LOADER, artifacts, PROGRAMS, CALLDATA, HERE)
    for name, code in PROGRAMS.items():
        want = outcome(WASM.compile(lower_bytecode(code)), code)
        result, output, gas = results[name]
        if isinstance(want[0], tuple):
            assert result == "ExceptionalHalt"
        else:
            assert [result, output, gas] == [int(want[0]), want[1].hex(), want[2]]  # type: ignore[call-overload]


# -- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fork", "prague"),
        ("evmkiln_version", "0.0.1"),
        ("compiler_fingerprint", "0" * 64),
        ("wasmtime_version", "29.0.0"),
        ("engine", {"settings": {"cranelift_opt_level": "none"}}),
        ("engine", {"target": "aarch64-linux"}),
        ("engine", {"pulley": True}),
        ("engine", {"settings": {"wasm_wide_arithmetic": False}}),
        ("options", {"opt_level": 0, "gas_metering": True, "extra": {}}),
        ("format_version", 99),
    ],
)
def test_mismatching_metadata_names_the_field(
    field: str, value: Any, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    if field == "engine":  # change one part of the recorded engine, keep the rest
        engine = json.loads(artifacts["exp_div"].read_text())["engine"]
        for key, part in value.items():
            engine[key] = {**engine[key], **part} if isinstance(part, dict) else part
        value = engine
    assert_mismatch_refused(WASM, artifacts["exp_div"], tmp_path, field, value)


def test_an_artifact_of_another_layout_is_a_mismatch_not_corrupt(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """An earlier version placed EVM memory elsewhere (its storage table was smaller):
    its artifact is to be recompiled, and says so, rather than called corrupt."""
    path = copy_artifact(artifacts["exp_div"], tmp_path)
    base = json.loads(path.read_text())["memory_base"]
    edit_metadata(path, compiler_fingerprint="0" * 64, memory_base=base - 4096)
    with pytest.raises(ArtifactMismatchError, match="recompile") as info:
        WASM.load(path, fork="cancun")
    assert info.value.field == "compiler_fingerprint"


def test_loading_for_another_fork_or_options_is_refused(artifacts: dict[str, Path]) -> None:
    assert_other_fork_and_options_refused(WASM, artifacts["exp_div"])


def test_module_from_another_engine_is_refused_by_wasmtime(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """Metadata that lies about the engine still cannot smuggle in an incompatible module:
    here one compiled for the other memory mode (other bounds checks)."""
    config = wasmtime.Config()
    for name, value in {**ENGINE_SETTINGS, **MEMORY_MODES[OTHER_MODE]}.items():
        setattr(config, name, value)
    wasm = WASM.compile(lower_bytecode(PROGRAMS["exp_div"])).wasm
    other = bytes(wasmtime.Module(wasmtime.Engine(config), wasm).serialize())
    path = copy_artifact(artifacts["exp_div"], tmp_path)
    replace_module(path, other)
    with pytest.raises(ArtifactMismatchError, match="memory reservation") as info:
        WASM.load(path, fork="cancun")
    assert info.value.field == "wasmtime_engine"


def test_artifact_of_the_other_memory_mode_is_refused_by_name(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    path = copy_artifact(artifacts["exp_div"], tmp_path)
    engine = json.loads(path.read_text())["engine"]
    settings = {k: v for k, v in engine["settings"].items() if not k.startswith("memory_")}
    engine["settings"] = {**settings, **MEMORY_MODES[OTHER_MODE]}
    edit_metadata(path, engine=engine)
    with pytest.raises(ArtifactMismatchError, match=MEMORY_MODE_ENV) as info:
        WASM.load(path, fork="cancun")
    assert info.value.field == "engine.memory"
    assert info.value.artifact_value == OTHER_MODE
    assert str(info.value.running_value).startswith(MEMORY_MODE)


MODE_LOADER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from eth_hash.auto import keccak
    from evmkiln.backend_wasm import WasmBackend, runtime
    from evmkiln.codegen.artifact_errors import ArtifactMismatchError
    from evmkiln.codegen.pipeline import lower_bytecode
    from test_wasm_aot import outcome

    wasm = WasmBackend()
    try:
        wasm.load(Path(sys.argv[1]), fork="cancun")
        refused = None
    except ArtifactMismatchError as exc:
        refused = [exc.field, exc.artifact_value]
    code = bytes.fromhex(sys.argv[2])
    path = wasm.save(lower_bytecode(code), Path(sys.argv[3]), code_hash=keccak(code), fork="cancun")
    loaded = wasm.load(path, fork="cancun").executable
    print(json.dumps({
        "mode": runtime.MEMORY_MODE,
        "refused": refused,
        "same": outcome(loaded, code) == outcome(wasm.compile(lower_bytecode(code)), code),
    }))
    """
)


def test_a_process_in_the_other_memory_mode_refuses_and_builds_its_own(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """The mode follows the environment: this process's artifact is refused by a
    process of the other mode, which saves, loads and runs artifacts of its own."""
    env = {MEMORY_MODE_ENV: OTHER_MODE}
    args = [str(artifacts["calldata_loop"]), PROGRAMS["calldata_loop"].hex(), str(tmp_path)]
    report = run_fresh_process(MODE_LOADER, args, HERE, env=env)
    assert report == {"mode": OTHER_MODE, "refused": ["engine.memory", MEMORY_MODE], "same": True}


def foreign_module(meta: Path) -> None:
    """A genuine module of this engine, but not an evmkiln contract."""
    from evmkiln.backend_wasm.runtime import engine

    wasm = wasmtime.wat2wasm('(module (func (export "run") (result i32) i32.const 0))')
    replace_module(meta, bytes(wasmtime.Module(engine(), wasm).serialize()))


def elf_garbage(meta: Path) -> None:
    replace_module(meta, b"\x7fELF" + bytes(range(256)) * 8)


CORRUPTIONS = {
    **common_corruptions("module", "not a serialized wasmtime module", other_backend="llvm"),
    "ELF that wasmtime refuses": (elf_garbage, "wasmtime refused it"),
    "module of another program": (foreign_module, "module imports"),
    "unknown field": (lambda m: edit_metadata(m, library="x.so"), "invalid metadata: library"),
    "memory base off": (lambda m: edit_metadata(m, memory_base=0), "memory_base"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_artifact_is_refused(case: str, artifacts: dict[str, Path], tmp_path: Path) -> None:
    assert_corrupt_refused(WASM, artifacts["calldata_loop"], tmp_path, CORRUPTIONS[case])


def test_missing_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactCorruptError, match="cannot read metadata"):
        WASM.load(tmp_path / "nothing.wasm.json", fork="cancun")


def test_save_needs_a_32_byte_hash(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        WASM.save(lower_bytecode(PROGRAMS["exp_div"]), tmp_path, code_hash=b"\x01", fork="cancun")
