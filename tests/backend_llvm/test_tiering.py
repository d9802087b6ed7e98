"""Tier-up: a large function turned hot is recompiled optimised, in the background, same results."""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.backend_llvm import backend as llvm_backend
from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.backend import LlvmBackend
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

# A loop summing i * i for i in 1..200 into storage slot 0 and returning the sum.
# PUSH1 200 (i); PUSH0 (acc); JUMPDEST(3); DUP2 DUP1 MUL ADD (acc += i*i);
# SWAP1 PUSH1 1 SWAP1 SUB SWAP1 (i -= 1); DUP2 PUSH1 3 JUMPI; SSTORE(0, acc); RETURN(acc)
LOOP = bytes.fromhex("60c85f5b8180020190600190039081600357805f555f5260205ff3")


@pytest.fixture
def eager_tier_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every function counts as large, and any run makes it hot."""
    monkeypatch.setattr(jit, "OPTIMISING_CODEGEN_LIMIT", 0)
    monkeypatch.setattr(llvm_backend, "TIER_UP_SECONDS", 0.0)


@pytest.mark.usefixtures("eager_tier_up")
def test_a_hot_large_function_is_optimised_and_agrees_before_and_after() -> None:
    expected = execute(CancunVM, {CONTRACT_A: LOOP})
    assert int.from_bytes(expected.output, "big") == sum(i * i for i in range(1, 201))
    backend = LlvmBackend()
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected  # fast code, queues the tier-up
    (executable,) = backend._cache.values()
    backend.wait_for_tier_ups()
    assert executable.optimised
    assert [record.error for record in backend.tier_ups.records] == [None]
    assert execute(vm_class, {CONTRACT_A: LOOP}) == expected  # optimised code


@pytest.mark.usefixtures("eager_tier_up")
def test_tier_up_can_be_turned_off() -> None:
    backend = LlvmBackend(tier_up=False)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    backend.wait_for_tier_ups()
    assert backend.tier_ups.records == []


def test_small_functions_are_optimised_from_the_start() -> None:
    backend = LlvmBackend()
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    (executable,) = backend._cache.values()
    assert executable.optimised
    assert backend.tier_ups.records == []


@pytest.mark.usefixtures("eager_tier_up")
def test_a_closed_queue_compiles_nothing_more() -> None:
    """What happens at interpreter exit: queued work is dropped, nothing new is accepted."""
    backend = LlvmBackend()
    backend.tier_ups.close()
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, {CONTRACT_A: LOOP}).success
    backend.wait_for_tier_ups()
    (executable,) = backend._cache.values()
    assert not executable.optimised
    assert backend.tier_ups.records == []
