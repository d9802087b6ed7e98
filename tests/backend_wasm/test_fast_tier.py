"""The fast tier (shared halt exits, the fast engine) against the reference backend.

Large functions are compiled for the fast tier (``backend.FAST_TIER_INSTS``);
the contracts here are small, so the threshold is lowered to 0 and the
control, memory and gas tests run again on fast-tier code: every halt kind
leaves through a shared exit, loops and dynamic jumps cross the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_control_memory_gas as control
import wasm_compare
from wasm_compare import WASM, assert_same

from evmkiln.backend_wasm import backend
from evmkiln.builtins.halts import HaltKind
from evmkiln.codegen.pipeline import lower_bytecode


@pytest.fixture(autouse=True)
def fast_tier(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(backend, "FAST_TIER_INSTS", 0)
    monkeypatch.setattr(wasm_compare, "_CACHE", {})
    yield


def test_small_function_goes_to_the_fast_tier() -> None:
    exe = WASM.compile(lower_bytecode(b"\x5f\x00"))
    assert exe.fast_tier
    body = exe.translation.module.funcs[0].body
    assert any(ins[0] == "br_if" for ins in body)  # the gas check leaves through an exit


def test_threshold_picks_the_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    function = lower_bytecode(bytes.fromhex("60c85b600190038060025700"))
    monkeypatch.setattr(backend, "FAST_TIER_INSTS", function.instruction_count() + 1)
    assert not WASM.compile(function).fast_tier
    monkeypatch.setattr(backend, "FAST_TIER_INSTS", function.instruction_count())
    assert WASM.compile(function).fast_tier


def test_dynamic_jumps() -> None:
    control.test_dynamic_jumps_valid_and_invalid()


def test_backward_loop() -> None:
    control.test_backward_loop()


@pytest.mark.parametrize("gas", [0, 1, 2, 10, 26, 27, 28, 100, 10_000])
def test_gas_boundaries(gas: int) -> None:
    control.test_gas_exact_boundaries(gas)


def test_stack_limits() -> None:
    control.test_stack_underflow_and_overflow()


def test_memory_expansion_out_of_gas() -> None:
    control.test_memory_expansion_gas_boundary()


@pytest.mark.parametrize("offset", [0, 31, 2**32 - 1, 2**64, 2**256 - 1])
@pytest.mark.parametrize("op", [0x51, 0x52, 0x53])
def test_memory_bounds(op: int, offset: int) -> None:
    control.test_memory_access_at_bounds(op, offset)


@pytest.mark.parametrize("gas", [3, 30, 100, 100_000])
def test_builtins_and_their_halts(gas: int) -> None:
    copies = control.test_keccak_and_copies_through_builtins.hypothesis.inner_test  # type: ignore[attr-defined]
    copies(0, 64, gas)
    copies(2**40, 1, gas)
    # RETURNDATACOPY past the (empty) return data: the builtin halts.
    out = assert_same(bytes.fromhex("6001" + "5f" + "5f" + "3e" + "00"), gas=gas)
    assert out[0] == ("halt", HaltKind.RETURNDATA_OUT_OF_BOUNDS) or out[0] == (
        "halt",
        HaltKind.OUT_OF_GAS,
    )
