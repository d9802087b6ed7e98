"""Tier-up: a hot fast-tier wasm function is compiled again, optimised, with the same results."""

from __future__ import annotations

import pickle

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.backend_wasm import backend as wasm_backend
from evmkiln.backend_wasm import background, tiering
from evmkiln.backend_wasm.aot import WasmArtifactExecutable
from evmkiln.backend_wasm.backend import WasmBackend, WasmExecutable
from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.runtime import engine
from evmkiln.codegen.backend import CompileOptions, Executable
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.tier_up import TierUpJob
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

# A loop summing i * i for i in 1..200 into storage slot 0 and returning the sum.
LOOP = bytes.fromhex("60c85f5b8180020190600190039081600357805f555f5260205ff3")

# f(0) = 1, f(n) = 3 * f(n - 1) + n: n from the call data, each level a CALL to
# itself; every level stores its result under key n and returns it.
RECURSE = bytes.fromhex(
    "5f3580600f5750"  # n = CALLDATALOAD(0); if n != 0 goto 0x0f
    "60015f5260205ff3"  # return 1
    "5b60018103"  # JUMPDEST; n - 1
    "5f5260205f60205f5f305af150"  # MSTORE(0, n - 1); CALL(GAS, ADDRESS, 0, 0, 32, 0, 32); POP
    "5f516003028101"  # v = 3 * MLOAD(0) + n
    "8082555f5260205ff3"  # SSTORE(n, v); return v
)
DEPTH = 6


def _f(n: int) -> int:
    return 1 if n == 0 else 3 * _f(n - 1) + n


@pytest.fixture
def eager_tier_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every function starts on the fast tier, and any run makes it hot."""
    monkeypatch.setattr(wasm_backend, "FAST_TIER_INSTS", 0)
    monkeypatch.setattr(tiering, "TIER_UP_SECONDS", 0.0)


def _recording(backend: WasmBackend, monkeypatch: pytest.MonkeyPatch) -> list[WasmExecutable]:
    """The executables ``backend`` compiles from now on."""
    made: list[WasmExecutable] = []
    compile_ = backend.compile

    def compile(function: Function, options: CompileOptions | None = None) -> WasmExecutable:
        made.append(compile_(function, options))
        return made[-1]

    monkeypatch.setattr(backend, "compile", compile)
    return made


@pytest.mark.usefixtures("eager_tier_up")
def test_a_hot_fast_tier_function_is_optimised_and_agrees_before_and_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = execute(CancunVM, {CONTRACT_A: LOOP})
    assert int.from_bytes(expected.output, "big") == sum(i * i for i in range(1, 201))
    backend = WasmBackend()
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected  # fast tier, queues the tier-up
    (executable,) = made
    backend.wait_for_tier_ups()
    assert [record.error for record in backend.tier_ups.records] == [None]
    assert executable.optimised and not executable.fast_tier
    assert executable.contract._engine is engine(fast=False)
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected  # optimised code


@pytest.mark.usefixtures("eager_tier_up")
def test_frames_running_when_the_optimised_code_arrives_finish_on_the_old_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The innermost frame's return installs the optimised module (the job runs at once,
    on the frame's thread); the five frames below it are still on the fast tier's."""
    data = DEPTH.to_bytes(32, "big")
    expected = execute(CancunVM, {CONTRACT_A: RECURSE}, data=data)
    assert int.from_bytes(expected.output, "big") == _f(DEPTH)
    backend = WasmBackend(isolated=False)
    installed: list[int] = []

    def build_now(job: TierUpJob) -> None:
        if job.queued:
            return
        job.queued = True
        job.build(None)
        job.release()
        installed.append(1)

    monkeypatch.setattr(backend.tier_ups, "submit", build_now)
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: RECURSE}, data=data) == expected
    assert installed == [1]
    (executable,) = made
    assert executable.optimised
    assert execute(vm_class, {CONTRACT_A: RECURSE}, data=data) == expected


@pytest.mark.usefixtures("eager_tier_up")
def test_tier_up_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = WasmBackend(tier_up=False)
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    backend.wait_for_tier_ups()
    assert backend.tier_ups.records == []
    assert made[0].fast_tier


def test_small_functions_start_on_the_optimising_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = WasmBackend()
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    (executable,) = made
    assert executable.optimised and not executable.fast_tier
    assert backend.tier_ups.records == []


@pytest.mark.usefixtures("eager_tier_up")
def test_a_closed_queue_compiles_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = WasmBackend()
    backend.tier_ups.close()
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    backend.wait_for_tier_ups()
    (executable,) = made
    assert not executable.optimised
    assert backend.tier_ups.records == []


@pytest.mark.usefixtures("eager_tier_up")
@pytest.mark.parametrize("isolated", [True, False])
def test_code_from_a_background_compile_tiers_up_by_lowering_it_again(
    monkeypatch: pytest.MonkeyPatch, isolated: bool
) -> None:
    """A runtime's background compile runs in a compiler process: this process has no IR,
    so the tier-up has the compiler process lower the bytecode again."""
    monkeypatch.setattr(background, "FAST_TIER_INSTS", 0)
    expected = execute(CancunVM, {CONTRACT_A: LOOP})
    backend = WasmBackend(isolated=isolated)
    loaded: list[Executable] = []

    def compile_in_background(
        function: Function, options: CompileOptions | None = None
    ) -> Executable:
        compiled = background.compile_code(function.code, "cancun", options or CompileOptions())
        assert compiled.meta["fast"]
        loaded.append(backend.load_compiled(pickle.loads(pickle.dumps(compiled))))  # a pipe
        return loaded[-1]

    monkeypatch.setattr(backend, "compile", compile_in_background)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected
    (executable,) = loaded
    assert isinstance(executable, WasmArtifactExecutable)
    backend.wait_for_tier_ups()
    assert [record.error for record in backend.tier_ups.records] == [None]
    assert executable.optimised
    assert executable.contract._engine is engine(fast=False)
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected


@pytest.mark.usefixtures("eager_tier_up")
def test_fast_tier_code_keeps_the_ir_not_the_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a tier-up is pending only the IR is held; the translation is made again
    from it when asked for, the same module; after the tier-up it is the optimised one."""
    backend = WasmBackend()
    made = _recording(backend, monkeypatch)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    monkeypatch.setattr(backend.tier_ups, "submit", lambda job: None)  # never hot
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    (executable,) = made
    assert executable._translation is None
    assert encode_module(executable.translation.module) == executable.wasm
    assert "evm_" in executable.wat()
    monkeypatch.undo()
    monkeypatch.setattr(tiering, "TIER_UP_SECONDS", 0.0)
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    backend.wait_for_tier_ups()
    assert executable.optimised and executable._translation is not None
    assert encode_module(executable.translation.module) == executable.wasm


@pytest.mark.usefixtures("eager_tier_up")
def test_a_failed_tier_up_leaves_the_fast_code_running(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = execute(CancunVM, {CONTRACT_A: LOOP})
    backend = WasmBackend()
    made = _recording(backend, monkeypatch)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("optimising translation failed")

    monkeypatch.setattr(tiering, "translate_for", broken)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected
    backend.wait_for_tier_ups()
    (record,) = backend.tier_ups.records
    assert record.error is not None and "optimising translation failed" in record.error
    (executable,) = made
    assert executable.fast_tier and not executable.optimised
    assert encode_module(executable.translation.module) == executable.wasm  # the IR was kept
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected
