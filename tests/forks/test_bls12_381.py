"""EIP-2537 on the native library, checked against py-evm's pure-Python precompiles.

Only inputs py-evm answers quickly (additions, maps, small multiplications)
are compared here; the EEST folder prague/eip2537_bls_12_381_precompiles
covers the rest (the runner checks it on every backend).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.forks.prague import PragueVM
from eth.vm.message import Message
from py_ecc.optimized_bls12_381 import G1, G2, multiply, neg, normalize

sys.path.insert(0, str(Path(__file__).parents[1] / "context"))

from message_harness import SENDER, make_state

from evmkiln.forks import fork_spec
from evmkiln.forks.bls12_381 import FIELD_MODULUS
from evmkiln.forks.osaka import OsakaVM
from evmkiln.forks.prague import KilnPragueVM

G1ADD, G1MSM, G2ADD, G2MSM, PAIRING, MAP_G1, MAP_G2 = range(0x0B, 0x12)


def _call(vm_class: Any, address: int, data: bytes, gas: int = 10_000_000) -> Any:
    state = make_state(vm_class, {})
    to = address.to_bytes(20, "big")
    message = Message(gas=gas, to=to, sender=SENDER, value=0, data=data, code=b"")
    return state.computation_class.apply_message(
        state, message, CancunTransactionContext(gas_price=10, origin=SENDER)
    )


def _fp(value: int) -> bytes:
    return value.to_bytes(64, "big")


def _g1(point: Any) -> bytes:
    x, y = normalize(point)
    return _fp(int(x)) + _fp(int(y))


def _g2(point: Any) -> bytes:
    x, y = normalize(point)
    return b"".join(_fp(int(c)) for c in (*x.coeffs, *y.coeffs))


def _same_as_pyevm(address: int, data: bytes) -> Any:
    native = _call(KilnPragueVM, address, data)
    stock = _call(PragueVM, address, data)
    assert (native.is_success, native.output, native.get_gas_remaining()) == (
        stock.is_success,
        stock.output,
        stock.get_gas_remaining(),
    )
    return native


def test_the_forks_use_the_native_precompiles() -> None:
    for fork in ("prague", "osaka"):
        precompiles = fork_spec(fork).computation_class.get_precompiles()
        assert precompiles[PAIRING.to_bytes(20, "big")].__module__ == "evmkiln.forks.bls12_381"
    assert fork_spec("osaka").vm_class is OsakaVM


P = multiply(G1, 5)
Q = multiply(G2, 7)
INFINITY_G1 = bytes(128)


@pytest.mark.parametrize(
    ("address", "data"),
    [
        (G1ADD, _g1(G1) + _g1(P)),
        (G1ADD, _g1(P) + _g1(neg(P))),
        (G1ADD, INFINITY_G1 + _g1(P)),
        (G1ADD, _g1(G1) + _fp(1) + _fp(2)),  # not on the curve
        (G1ADD, _g1(G1) + _fp(FIELD_MODULUS) + _fp(0)),  # not a field element
        (G1ADD, _g1(G1)),  # too short
        (G2ADD, _g2(G2) + _g2(Q)),
        (G1MSM, _g1(P) + (3).to_bytes(32, "big")),
        (MAP_G1, _fp(12345)),
        (MAP_G1, _fp(FIELD_MODULUS)),
        (MAP_G2, _fp(1) + _fp(2)),
    ],
)
def test_native_precompiles_agree_with_pyevm(address: int, data: bytes) -> None:
    _same_as_pyevm(address, data)


def test_pairing_check() -> None:
    """e(5*G1, 7*G2) * e(-35*G1, G2) == 1; a subgroup violation halts."""
    valid = _g1(P) + _g2(Q) + _g1(neg(multiply(G1, 35))) + _g2(G2)
    result = _call(KilnPragueVM, PAIRING, valid)
    assert result.is_success and result.output == (1).to_bytes(32, "big")
    assert 10_000_000 - result.get_gas_remaining() == 37700 + 2 * 32600
    wrong = _call(KilnPragueVM, PAIRING, _g1(P) + _g2(Q) + _g1(G1) + _g2(G2))
    assert wrong.is_success and wrong.output == bytes(32)
    # (x, y) on y^2 = x^3 + 4 but outside the prime-order subgroup.
    x = 0
    while True:
        x += 1
        rhs = (x**3 + 4) % FIELD_MODULUS
        y = pow(rhs, (FIELD_MODULUS + 1) // 4, FIELD_MODULUS)
        if y * y % FIELD_MODULUS == rhs:
            break
    outside = _fp(x) + _fp(y)
    assert _call(KilnPragueVM, G1ADD, outside + INFINITY_G1).is_success
    halted = _call(KilnPragueVM, PAIRING, outside + _g2(G2))
    assert halted.is_error and halted.get_gas_remaining() == 0
