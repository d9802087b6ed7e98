"""LLVM runs in a compiler process: its failures cost a compile, never the caller's process."""

from __future__ import annotations

import pytest
from compiler_output import VYPER_EXPERIMENTAL as VYPER_CONTRACT
from compiler_output import VYPER_EXPERIMENTAL_CALLS as CALLS
from eth.vm.forks.cancun import CancunVM
from evmharness import CONTRACT_A, execute

from evmkiln.backend_llvm import LlvmBackend
from evmkiln.backend_llvm.translate import translate
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.compiler_process import CompilerCrashed, CompilerProcess
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context import make_vm_class
from evmkiln.context.code_cache import CompileFailedError


def test_an_llvm_assertion_in_the_compiler_process_is_a_crash_report() -> None:
    """NewGVN's assertion, reproduced in a compiler process: the test process lives on."""
    function = lower_bytecode(VYPER_CONTRACT)
    text = str(translate(function, CompileOptions()))
    compiler = CompilerProcess()
    try:
        obj = compiler.call("compiler_jobs:new_gvn_object_code", text, 2, 2)
    except CompilerCrashed as crash:
        assert "SIGABRT" in str(crash)
        assert "Seem to have processed the same Value a lot" in str(crash)
    else:  # an LLVM built without assertions gets through
        assert obj.startswith(b"\x7fELF")
    finally:
        compiler.close()


class AbortingLlvm(LlvmBackend):
    """An LLVM backend whose compiler process dies on every compile."""

    object_code_job = "compiler_jobs:abort"


def test_a_crashed_compile_leaves_the_code_interpreted() -> None:
    vm_class = make_vm_class(backend=AbortingLlvm(), interpret_on_compile_error=True, fork="cancun")
    codes = {CONTRACT_A: VYPER_CONTRACT}
    for data in CALLS:
        assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
    stats = vm_class.stats
    assert stats.compile_failures == 1  # remembered: one crash, not one per call
    assert stats.frames_run_compiled == 0
    (reason,) = stats.failures.values()
    assert "CompilerCrashed" in reason and "SIGABRT" in reason


def test_a_crashed_compile_without_fallback_is_an_error_not_a_crash() -> None:
    vm_class = make_vm_class(
        backend=AbortingLlvm(), interpret_on_compile_error=False, fork="cancun"
    )
    with pytest.raises(CompileFailedError, match="SIGABRT"):
        execute(vm_class, {CONTRACT_A: VYPER_CONTRACT}, data=CALLS[0])


def test_in_process_compiles_give_the_same_results() -> None:
    backend = LlvmBackend(isolated=False)
    assert backend.compiler is None
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    codes = {CONTRACT_A: VYPER_CONTRACT}
    for data in CALLS[:3]:
        assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
