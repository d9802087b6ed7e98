"""Every word operation, compiled natively, against ``semantics.py`` and the reference.

Operands come from call data so that lowering cannot fold them away.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llvm_harness import asm, compare, push

from evmkiln.codegen.ir.semantics import BINARY, TERNARY, UNARY

EDGES = [0, 1, 2, 3, 7, 8, 31, 32, 255, 256, 257, 2**64, 2**128 - 1,
         2**255, 2**255 + 1, 2**256 - 1, 2**256 - 2]  # fmt: skip
words = st.one_of(st.sampled_from(EDGES), st.integers(0, 2**256 - 1), st.integers(0, 300))

OPCODES = {
    "add": 0x01, "mul": 0x02, "sub": 0x03, "div": 0x04, "sdiv": 0x05, "mod": 0x06,
    "smod": 0x07, "addmod": 0x08, "mulmod": 0x09, "exp": 0x0A, "signextend": 0x0B,
    "lt": 0x10, "gt": 0x11, "slt": 0x12, "sgt": 0x13, "eq": 0x14, "iszero": 0x15,
    "and": 0x16, "or": 0x17, "xor": 0x18, "not": 0x19, "byte": 0x1A, "shl": 0x1B,
    "shr": 0x1C, "sar": 0x1D, "clz": 0x1E,
}  # fmt: skip


def program(name: str, arity: int) -> bytes:
    """Load ``arity`` words from call data (word 0 on top), apply the op, return it."""
    loads = [asm(push(32 * i), 0x35) for i in reversed(range(arity))]
    return asm(*loads, OPCODES[name], push(0), 0x52, push(32), push(0), 0xF3)


def check(name: str, arity: int, operands: list[int], expected: int) -> None:
    calldata = b"".join(x.to_bytes(32, "big") for x in operands)
    outcome = compare(program(name, arity), calldata=calldata)
    assert outcome.result == "RETURN"
    assert int.from_bytes(outcome.output, "big") == expected


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=60, deadline=None)
@given(a=words, b=words)
def test_binary(name: str, a: int, b: int) -> None:
    check(name, 2, [a, b], BINARY[name](a, b))


@pytest.mark.parametrize("name", sorted(TERNARY))
@settings(max_examples=60, deadline=None)
@given(a=words, b=words, n=words)
def test_ternary(name: str, a: int, b: int, n: int) -> None:
    check(name, 3, [a, b, n], TERNARY[name](a, b, n))


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=30, deadline=None)
@given(a=words)
def test_unary(name: str, a: int) -> None:
    check(name, 1, [a], UNARY[name](a))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_edge_grid(name: str) -> None:
    for a in EDGES:
        for b in EDGES:
            check(name, 2, [a, b], BINARY[name](a, b))


@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_edge_grid(name: str) -> None:
    for a in EDGES[::2]:
        for b in EDGES[1::2]:
            for n in EDGES:
                check(name, 3, [a, b, n], TERNARY[name](a, b, n))


def _magnitude(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, 2**bits - 1)


def _signed(magnitude: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """Small magnitudes of either sign, as two's-complement words."""
    return st.tuples(magnitude, st.booleans()).map(lambda p: (-p[0]) % 2**256 if p[1] else p[0])


# Division takes a different native path by operand size (both under 2^64, a
# dividend under 2^128 by a divisor under 2^64 on x86-64, a divisor under
# 2^32, anything wider); each size class and the boundaries between them,
# both signs, and the EVM's special divisors 0 and -1.
DIVISION_OPERANDS = st.one_of(
    *(_signed(_magnitude(bits)) for bits in (8, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129)),
    *(_signed(_magnitude(bits)) for bits in (255, 256)),
    st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**64 - 1, 2**64, 2**128 - 1, 2**128]),
    st.sampled_from([2**255, 2**256 - 1]),
    # The inline 64-bit path's bounds: signed words that do and do not fit 64 bits.
    st.sampled_from([2**63 - 1, 2**63, 2**256 - 2**63, 2**256 - 2**63 - 1, 2**256 - 2]),
)


@pytest.mark.parametrize("name", ["div", "mod", "sdiv", "smod"])
@settings(max_examples=150, deadline=None)
@given(
    a=st.one_of(st.integers(2**64, 2**128 - 1), st.sampled_from([2**64, 2**128 - 1])),
    b=st.one_of(st.integers(1, 2**64 - 1), st.sampled_from([1, 2, 2**32 - 1, 2**32, 2**64 - 1])),
    negate=st.tuples(st.booleans(), st.booleans()),
)
def test_two_word_dividend_by_one_word_divisor(
    name: str, a: int, b: int, negate: tuple[bool, bool]
) -> None:
    """The 128-by-64 path: the high word's remainder feeds the second division."""
    a, b = ((-a) % 2**256 if negate[0] else a), ((-b) % 2**256 if negate[1] else b)
    check(name, 2, [a, b], BINARY[name](a, b))


TWO_WORD_EDGES = [2**127 - 1, -(2**127), -(2**127) + 1, 2**64, -(2**64), 2**128 - 1, 2**127]
ONE_WORD_EDGES = [1, 2, -2, 3, -3, 2**63 - 1, -(2**63), 2**64 - 1, 2**32, -(2**32)]


@pytest.mark.parametrize("name", ["div", "mod", "sdiv", "smod"])
def test_two_word_dividend_edges(name: str) -> None:
    """Where the inline 128-bit path's signed bounds and magnitudes turn."""
    for a in TWO_WORD_EDGES:
        for b in ONE_WORD_EDGES:
            a_word, b_word = a % 2**256, b % 2**256
            check(name, 2, [a_word, b_word], BINARY[name](a_word, b_word))


@settings(max_examples=100, deadline=None)
@given(a=st.integers(0, 2**64 - 1), b=st.integers(0, 2**64 - 1), n=st.integers(1, 2**64 - 1))
def test_mulmod_of_words_reduces_a_two_word_product(a: int, b: int, n: int) -> None:
    check("mulmod", 3, [a, b, n], TERNARY["mulmod"](a, b, n))


@pytest.mark.parametrize("name", ["div", "mod", "sdiv", "smod"])
@settings(max_examples=150, deadline=None)
@given(a=DIVISION_OPERANDS, b=DIVISION_OPERANDS)
def test_division_by_operand_size(name: str, a: int, b: int) -> None:
    check(name, 2, [a, b], BINARY[name](a, b))


# Knuth's algorithm D (divisors of two digits or more, and ADDMOD/MULMOD over
# 512 bits) on 32-bit digits: operands built digit by digit from the values
# where its quotient estimate and correction steps turn (0, 2^31 - 1, 2^31,
# 2^32 - 1, ...), so the rare add-back step is reached as well.
KNUTH_DIGITS = st.one_of(
    st.sampled_from([0, 1, 2, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]), st.integers(0, 2**32 - 1)
)
DIGIT_WORDS = st.lists(KNUTH_DIGITS, min_size=1, max_size=8).map(
    lambda ds: sum(d << (32 * i) for i, d in enumerate(ds))
)

ADD_BACK = [
    # (dividend, divisor) pairs whose division needs the add-back step, found
    # with a model of the algorithm.
    (0xFFFFFFFF8000000000000001000000018B0C0158EE4298047FFFFFFFA92B5BD5,
     0xFFFFFFFF800000004D83926D35F53342000000017FFFFFFF),
    (0x7FFFFFFFFFFFFFFE0000000080000000DAACDF3A8000000000000000,
     0x7FFFFFFFFFFFFFFE00000001FE0A5C277FFFFFFF00000002),
    (0x2000000010000000000000001000000000000000200000001, 0x10000000100000001),
    (0x3F99DD910000000000000000FFFFFFFF7FFFFFFF0000000100000001,
     0x8000000000000000FFFFFFFE7FFFFFFFFFFFFFFE),
]  # fmt: skip


@pytest.mark.parametrize("name", ["div", "mod", "sdiv", "smod"])
@settings(max_examples=150, deadline=None)
@given(a=DIGIT_WORDS, b=DIGIT_WORDS)
def test_division_by_digit_patterns(name: str, a: int, b: int) -> None:
    check(name, 2, [a, b], BINARY[name](a, b))


@pytest.mark.parametrize("name", ["addmod", "mulmod"])
@settings(max_examples=150, deadline=None)
@given(a=DIGIT_WORDS, b=DIGIT_WORDS, n=DIGIT_WORDS)
def test_modular_by_digit_patterns(name: str, a: int, b: int, n: int) -> None:
    check(name, 3, [a, b, n], TERNARY[name](a, b, n))


@pytest.mark.parametrize(("x", "y"), ADD_BACK)
def test_division_add_back(x: int, y: int) -> None:
    for name in ("div", "mod"):
        check(name, 2, [x, y], BINARY[name](x, y))
    check("mulmod", 3, [x, 2**256 - 1, y], TERNARY["mulmod"](x, 2**256 - 1, y))
