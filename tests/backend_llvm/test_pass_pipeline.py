"""Real compiler output compiles at every optimisation level and runs like py-evm."""

from __future__ import annotations

import pytest
from compiler_output import VYPER_EXPERIMENTAL, VYPER_EXPERIMENTAL_CALLS
from eth.vm.forks.cancun import CancunVM
from evmharness import CONTRACT_A, execute

from evmkiln.backend_llvm import LlvmBackend, jit
from evmkiln.context import make_vm_class


def test_no_level_runs_new_gvn() -> None:
    """NewGVN aborts the process on the Vyper contract (see ``jit.PIPELINES``)."""
    for passes in jit.PIPELINES.values():
        assert passes is None or "new_gvn" not in passes


@pytest.mark.parametrize("opt_level", [0, 1, 2, 3])
def test_the_vyper_contract_compiles_and_matches_pyevm(opt_level: int) -> None:
    vm_class = make_vm_class(
        backend=LlvmBackend(),
        interpret_on_compile_error=False,
        opt_level=opt_level,
        fork="cancun",
    )
    codes = {CONTRACT_A: VYPER_EXPERIMENTAL}
    for data in VYPER_EXPERIMENTAL_CALLS:
        assert execute(vm_class, codes, data=data) == execute(CancunVM, codes, data=data)
    assert vm_class.stats.compile_failures == 0
    assert vm_class.stats.frames_run_compiled == len(VYPER_EXPERIMENTAL_CALLS)
