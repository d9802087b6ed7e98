"""Cranelift compiles in a compiler process: its failures cost a compile, never the process."""

from __future__ import annotations

import os

import pytest
from compiler_output import VYPER_EXPERIMENTAL, VYPER_EXPERIMENTAL_CALLS
from eth.vm.forks.cancun import CancunVM
from evmharness import CONTRACT_A, execute

from evmkiln.backend_wasm import WasmBackend
from evmkiln.backend_wasm.runtime import MEMORY_MODE
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context import make_vm_class
from evmkiln.context.code_cache import CompileFailedError


def test_compiles_run_in_a_child_with_this_process_memory_mode() -> None:
    backend = WasmBackend()
    assert backend.compiler is not None
    assert backend.compiler.env["EVMKILN_WASM_MEMORY"] == MEMORY_MODE
    backend.compile(lower_bytecode(bytes.fromhex("600160020160005260206000f3")))
    child = backend.compiler.pid
    assert child is not None and child != os.getpid()
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    codes = {CONTRACT_A: VYPER_EXPERIMENTAL}
    for data in VYPER_EXPERIMENTAL_CALLS:
        assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
    assert vm_class.stats.frames_run_compiled == len(VYPER_EXPERIMENTAL_CALLS)


class AbortingWasm(WasmBackend):
    """A wasm backend whose compiler process dies on every compile."""

    compile_job = "compiler_jobs:abort"


def test_a_crashed_compile_leaves_the_code_interpreted() -> None:
    vm_class = make_vm_class(backend=AbortingWasm(), interpret_on_compile_error=True, fork="cancun")
    codes = {CONTRACT_A: VYPER_EXPERIMENTAL}
    for data in VYPER_EXPERIMENTAL_CALLS:
        assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
    assert vm_class.stats.compile_failures == 1
    (reason,) = vm_class.stats.failures.values()
    assert "SIGABRT" in reason


def test_a_crashed_compile_without_fallback_is_an_error() -> None:
    vm_class = make_vm_class(
        backend=AbortingWasm(), interpret_on_compile_error=False, fork="cancun"
    )
    with pytest.raises(CompileFailedError, match="SIGABRT"):
        execute(vm_class, {CONTRACT_A: VYPER_EXPERIMENTAL}, data=VYPER_EXPERIMENTAL_CALLS[0])


def test_in_process_compiles_still_work() -> None:
    backend = WasmBackend(isolated=False)
    assert backend.compiler is None
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    codes = {CONTRACT_A: VYPER_EXPERIMENTAL}
    data = VYPER_EXPERIMENTAL_CALLS[0]
    assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
