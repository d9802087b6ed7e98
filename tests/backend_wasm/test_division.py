"""The division family (div, sdiv, mod, smod, exp, addmod, mulmod) in wasm.

Each operation runs as a module routine (no host crossing); results are
checked against :mod:`evmkiln.codegen.ir.semantics` on an exhaustive grid of
edge values, on operands built from the 32-bit digits that steer Knuth's
algorithm D into its rare corrections, and on vectors known to need its
add-back step.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_word_ops import calldata, program
from wasm_compare import WASM, run_with

from evmkiln.backend_wasm.translate import translate
from evmkiln.codegen.ir.semantics import BINARY, TERNARY
from evmkiln.codegen.pipeline import lower_bytecode

BINARY_OPS = ["div", "sdiv", "mod", "smod", "exp"]
TERNARY_OPS = ["addmod", "mulmod"]
GRID = [0, 1, 2, 2**64 - 1, 2**64, 2**64 + 1, 2**128, 2**255, 2**256 - 1]
SIGNED_GRID = [*GRID, 2**256 - 2, 2**255 + 1, 2**255 - 1, 2**256 - 2**64]
SIGNED_64 = [2**63 - 1, 2**63, 2**256 - 2**63, 2**256 - 2**63 - 1, 7, 2**256 - 7, 3, 2**256 - 3]
"""The signed forms' 64-bit path: words that are, or just are not, sign-extended i64s."""
DIGITS = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF]
ADD_BACK = [
    (0x7FFFFFFF_80000000_00000000_00000000, 0x80000000_00000000_00000001),
    (0x7FFFFFFFFFFFFFFFFFFFFFFF7FFFFFFF0000000100000000, 0x80000000000000007FFFFFFF80000001),
    (0xFFFFFFFE_FFFFFFFE_80000000, 0x1_00000001_00000001),
    (0x800000007FFFFFFF000000018000000080000000, 0xFFFFFFFF00000000FFFFFFFE80000000),
    (0xFFFFFFFE000000017FFFFFFF7FFFFFFF, 0xFFFFFFFE0000000180000000),
]


def _result(op: str, *args: int) -> bytes:
    out = run_with(WASM, program(op, len(args)), calldata=calldata(*args), gas=10**7)
    assert isinstance(out[1], bytes)
    return out[1]


def _expected(op: str, *args: int) -> bytes:
    fn = BINARY[op] if op in BINARY else TERNARY[op]
    return fn(*args).to_bytes(32, "big")


@st.composite
def digit_words(draw: st.DrawFn) -> int:
    """Words of 1..8 significant 32-bit digits, mostly from DIGITS, maybe shifted up."""
    n = draw(st.integers(1, 8))
    value = 0
    for _ in range(n):
        d = draw(st.one_of(st.sampled_from(DIGITS), st.integers(0, 2**32 - 1)))
        value = (value << 32) | d
    shift = draw(st.integers(0, 8 - n))
    return value << (32 * shift)


words = st.one_of(digit_words(), st.integers(0, 2**256 - 1), st.sampled_from(SIGNED_GRID))


@pytest.mark.parametrize("op", BINARY_OPS + TERNARY_OPS)
def test_no_host_crossing(op: str) -> None:
    arity = 3 if op in TERNARY else 2
    translation = translate(lower_bytecode(program(op, arity)))
    assert op in translation.routines
    crossings = [ins for ins in translation.module.funcs[0].body if ins == ("call", 0)]
    # Only the CALLDATALOADs that fetch the operands cross to the host.
    assert len(crossings) == arity


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_grid(op: str) -> None:
    for a, b in itertools.product(SIGNED_GRID, repeat=2):
        assert _result(op, a, b) == _expected(op, a, b), (op, hex(a), hex(b))


@pytest.mark.parametrize("op", ["sdiv", "smod"])
def test_signed_64_bit_grid(op: str) -> None:
    for a, b in itertools.product([*SIGNED_64, 0, 1, 2**256 - 1, 2**64], repeat=2):
        assert _result(op, a, b) == _expected(op, a, b), (op, hex(a), hex(b))


@pytest.mark.parametrize("op", ["sdiv", "smod"])
@settings(max_examples=150, deadline=None)
@given(
    a=st.integers(-(2**63), 2**63 - 1).map(lambda v: v % 2**256),
    b=st.integers(-(2**63), 2**63 - 1).map(lambda v: v % 2**256),
)
def test_signed_64_bit_operands(op: str, a: int, b: int) -> None:
    assert _result(op, a, b) == _expected(op, a, b), (op, hex(a), hex(b))


@pytest.mark.parametrize("op", TERNARY_OPS)
def test_ternary_grid(op: str) -> None:
    for a, b, n in itertools.product(GRID, repeat=3):
        assert _result(op, a, b, n) == _expected(op, a, b, n), (op, hex(a), hex(b), hex(n))


@pytest.mark.parametrize("op", ["div", "mod", "sdiv", "smod"])
@pytest.mark.parametrize(("a", "b"), ADD_BACK)
def test_add_back(op: str, a: int, b: int) -> None:
    assert _result(op, a, b) == _expected(op, a, b)


@pytest.mark.parametrize("op", TERNARY_OPS)
@pytest.mark.parametrize(("a", "n"), ADD_BACK)
def test_add_back_modular(op: str, a: int, n: int) -> None:
    for b in (1, a, 2**256 - 1, 2**255):
        assert _result(op, a, b, n) == _expected(op, a, b, n)


@pytest.mark.parametrize("op", BINARY_OPS)
@settings(max_examples=300, deadline=None)
@given(a=words, b=words)
def test_binary_digits(op: str, a: int, b: int) -> None:
    assert _result(op, a, b) == _expected(op, a, b)


@pytest.mark.parametrize("op", TERNARY_OPS)
@settings(max_examples=300, deadline=None)
@given(a=words, b=words, n=words)
def test_ternary_digits(op: str, a: int, b: int, n: int) -> None:
    assert _result(op, a, b, n) == _expected(op, a, b, n)
