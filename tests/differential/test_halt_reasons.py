"""The reason of an exceptional halt, not only its category, matches py-evm's.

Straight-line code runs at a known stack height, where the lowering knows
which instruction's stack fails.  Before it, the interpreter runs the
instructions in front and charges the failing one's static gas: running out
of gas on the way (static gas, or a memory expansion) must be reported as
py-evm reports it, OutOfGas, not as the stack error the block would end in.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

# Instructions that fail only by gas or by their stack: pure ops and memory.
PLAIN = {
    "ADD": "01",
    "MUL": "02",
    "POP": "50",
    "MLOAD": "51",
    "MSTORE": "52",
    "KECCAK256": "20",
    "CODECOPY": "39",
    "MCOPY": "5e",
    "DUP1": "80",
    "DUP4": "83",
    "SWAP2": "91",
    "SWAP16": "9f",
}

_step = st.one_of(
    st.sampled_from(sorted(PLAIN.values())),
    st.integers(min_value=0, max_value=70_000).map(lambda v: "62" + v.to_bytes(3, "big").hex()),
    st.just("7f" + "ff" * 32),  # a huge offset or size: the expansion runs out of gas
    st.just("5f"),  # PUSH0
)


@pytest.fixture(scope="module", params=["ir", "llvm", "wasm"])
def vm(request: pytest.FixtureRequest) -> Any:
    return make_vm_class(
        request.param, interpret_on_compile_error=False, replay_inexact_halts=False, fork="cancun"
    )


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, min_size=1, max_size=14), gas=st.integers(21_000, 60_000))
def test_straight_line_halts_name_pyevms_reason(vm: Any, steps: list[str], gas: int) -> None:
    code = bytes.fromhex("".join(steps))
    expected = execute(CancunVM, {CONTRACT_A: code}, gas=gas)
    actual = execute(vm, {CONTRACT_A: code}, gas=gas)
    assert actual == expected, code.hex()
    assert actual.detail == expected.detail, code.hex()


def test_a_stack_error_after_an_expansion_out_of_gas_is_out_of_gas(vm: Any) -> None:
    """randomStatetest499's shape: CODECOPY of 2^256-1 bytes, then SWAP16 on 5 items."""
    code = bytes.fromhex("6001" * 5 + "7f" + "ff" * 32 + "5f5f" + "39" + "9f")
    expected = execute(CancunVM, {CONTRACT_A: code}, gas=100_000)
    assert expected.detail == "OutOfGas"
    assert execute(vm, {CONTRACT_A: code}, gas=100_000).detail == "OutOfGas"
