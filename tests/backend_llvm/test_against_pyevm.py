"""Generated programs through stock py-evm and through a VM whose frames run LLVM code.

Same transactions, same expectations as ``tests/differential``: status, error
class, gas used, output, logs and the post-state root must all be identical.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from bytecode_gen import assemble, programs
from eth.vm.forks.cancun import CancunVM
from evmharness import CONTRACT_A, CONTRACT_B, execute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

make_vm_class = getattr(importlib.import_module("evmkiln.context"), "make_vm_class", None)
pytestmark = pytest.mark.skipif(make_vm_class is None, reason="evmkiln.context.make_vm_class")


@pytest.fixture(scope="module")
def vm_class() -> Any:
    assert make_vm_class is not None
    return make_vm_class(backend="llvm")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    a=programs,
    b=programs,
    gas=st.integers(min_value=25_000, max_value=300_000),
    data=st.binary(max_size=68),
    value=st.sampled_from([0, 0, 1]),
)
def test_generated_programs_match_pyevm(
    vm_class: Any,
    a: list[tuple[str, int]],
    b: list[tuple[str, int]],
    gas: int,
    data: bytes,
    value: int,
) -> None:
    codes = {CONTRACT_A: assemble(a, CONTRACT_B), CONTRACT_B: assemble(b, CONTRACT_A)}
    expected = execute(CancunVM, codes, data=data, value=value, gas=gas)
    actual = execute(vm_class, codes, data=data, value=value, gas=gas)
    assert actual == expected, (codes[CONTRACT_A].hex(), codes[CONTRACT_B].hex())
