"""Every word operation on the wasm backend against the reference semantics.

Operands come from call data so lowering cannot fold them; the result is
returned through memory.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_compare import assert_same

from evmkiln.codegen.ir.semantics import BINARY, TERNARY, UNARY

EDGES = [0, 1, 2, 31, 32, 63, 64, 255, 256, 2**64 - 1, 2**64, 2**128, 2**255, 2**256 - 1]
words = st.one_of(st.sampled_from(EDGES), st.integers(0, 2**256 - 1), st.integers(0, 300))

OPCODE = {
    "add": 0x01, "mul": 0x02, "sub": 0x03, "div": 0x04, "sdiv": 0x05, "mod": 0x06,
    "smod": 0x07, "addmod": 0x08, "mulmod": 0x09, "exp": 0x0A, "signextend": 0x0B,
    "lt": 0x10, "gt": 0x11, "slt": 0x12, "sgt": 0x13, "eq": 0x14, "iszero": 0x15,
    "and": 0x16, "or": 0x17, "xor": 0x18, "not": 0x19, "byte": 0x1A, "shl": 0x1B,
    "shr": 0x1C, "sar": 0x1D, "clz": 0x1E,
}  # fmt: skip


def program(op: str, arity: int) -> bytes:
    """Load ``arity`` call-data words (first operand on top), apply ``op``, return it."""
    code = bytearray()
    for i in reversed(range(arity)):
        code += bytes([0x60, 32 * i, 0x35])  # PUSH1 32*i CALLDATALOAD
    code += bytes([OPCODE[op], 0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])  # op MSTORE(0) RETURN(0,32)
    return bytes(code)


def calldata(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


def test_every_word_op_is_covered() -> None:
    assert set(OPCODE) == set(BINARY) | set(TERNARY) | set(UNARY)


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=60, deadline=None)
@given(a=words, b=words)
def test_binary(op: str, a: int, b: int) -> None:
    out = assert_same(program(op, 2), calldata=calldata(a, b))
    assert out[1] == BINARY[op](a, b).to_bytes(32, "big")


@pytest.mark.parametrize("op", sorted(TERNARY))
@settings(max_examples=40, deadline=None)
@given(a=words, b=words, n=words)
def test_ternary(op: str, a: int, b: int, n: int) -> None:
    out = assert_same(program(op, 3), calldata=calldata(a, b, n))
    assert out[1] == TERNARY[op](a, b, n).to_bytes(32, "big")


@pytest.mark.parametrize("op", sorted(UNARY))
@settings(max_examples=40, deadline=None)
@given(a=words)
def test_unary(op: str, a: int) -> None:
    out = assert_same(program(op, 1), calldata=calldata(a))
    assert out[1] == UNARY[op](a).to_bytes(32, "big")


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_edges_exhaustive(op: str) -> None:
    code = program(op, 2)
    for a in EDGES:
        for b in EDGES:
            out = assert_same(code, calldata=calldata(a, b))
            assert out[1] == BINARY[op](a, b).to_bytes(32, "big"), (a, b)
