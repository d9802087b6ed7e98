"""KECCAK256 hashed inside the module, against the Python builtin (the reference backend).

Result, memory and gas to the unit, over block boundaries, huge and empty
ranges, and with exactly the gas the hash needs and one unit less.
"""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_compare import WASM, assert_same, run_with

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.translate import BUILTIN_IDS
from evmkiln.codegen.backend import CompileOptions

HUGE = [2**32 - 1, 2**32, 2**64, 2**256 - 1]


def _push(value: int) -> bytes:
    n = max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + n]) + value.to_bytes(n, "big")


def program(offset: int, size: int, calldata: bool = True) -> bytes:
    """Copy call data to memory 0, hash (offset, size), return the hash."""
    fill = bytes([0x36, 0x5F, 0x5F, 0x37]) if calldata else b""  # CALLDATACOPY(0, 0, size)
    hashed = _push(size) + _push(offset) + bytes([0x20])
    return fill + hashed + bytes([0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])  # RETURN the word


@pytest.mark.parametrize(
    "size", [0, 1, 7, 8, 31, 32, 33, 64, 134, 135, 136, 137, 271, 272, 273, 1000]
)
def test_block_boundaries(size: int) -> None:
    calldata = bytes(range(256)) * 5
    _, output, *_ = assert_same(program(3, size), calldata=calldata)
    assert output == keccak(calldata[3 : 3 + size])


@pytest.mark.parametrize("size", [32, 64])
def test_word_inputs_after_a_long_hash(size: int) -> None:
    """A one- or two-word hash writes every lane: nothing of the previous hash's state leaks."""
    calldata = bytes(range(7, 256)) * 2
    first = _push(300) + _push(0) + bytes([0x20, 0x50])  # KECCAK256(0, 300), dropped
    code = bytes([0x36, 0x5F, 0x5F, 0x37]) + first + program(5, size, calldata=False)
    _, output, *_ = assert_same(code, calldata=calldata)
    assert output == keccak(calldata[5 : 5 + size])


@given(
    calldata=st.binary(max_size=400),
    offset=st.one_of(st.integers(0, 400), st.sampled_from(HUGE)),
    size=st.one_of(st.integers(0, 400), st.sampled_from([0, 32, 64, 136, 5000, *HUGE])),
)
@settings(max_examples=40, deadline=None)
def test_any_range_and_the_exact_gas(calldata: bytes, offset: int, size: int) -> None:
    code = program(offset, size)
    outcome = assert_same(code, calldata=calldata, gas=10**9)
    gas_left = outcome[2]
    if isinstance(gas_left, int):  # it ran: now with exactly the gas used, and one less
        used = 10**9 - gas_left
        assert_same(code, calldata=calldata, gas=used)
        assert_same(code, calldata=calldata, gas=used - 1)


def test_the_hash_never_crosses_into_python(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> int:
        raise AssertionError("keccak256 crossed into Python")

    ident = BUILTIN_IDS["keccak256"]
    table = list(runtime._BUILTIN_TABLE)
    table[ident] = (refuse, *table[ident][1:])
    monkeypatch.setattr(runtime, "_BUILTIN_TABLE", table)
    outcome = run_with(WASM, program(0, 300, calldata=False), options=CompileOptions())
    assert outcome[1] == keccak(bytes(300))
