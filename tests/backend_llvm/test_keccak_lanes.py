"""Both lane forms of the LLVM Keccak-256 helper, against ``eth_hash``.

The contracts' tests exercise only the form the host picks
(:func:`evmkiln.backend_llvm.keccak.host_lanes`); here each form is compiled
on its own, with a small driver, so the other one is checked too (on a host
without AVX-512 the vector form compiles to SSE: slower, equally exact).
"""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
from eth_hash.auto import keccak as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.backend_llvm import jit, keccak
from evmkiln.backend_llvm.native import INTRINSICS
from evmkiln.builtins.keccak_constants import RATE

DRIVER = """
define void @hash(ptr %data, i64 %len, ptr %out) {
  %h = call i256 @evmkiln.keccak256(ptr %data, i64 %len)
  store i256 %h, ptr %out, align 1
  ret void
}
"""
HASH = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_void_p)

FORMS = {"i64": keccak.GENERAL, "vector": keccak.VECTOR}
_compiled: dict[str, tuple[Any, Any]] = {}


def hasher(form: str) -> Any:
    if form not in _compiled:
        text = "\n".join([INTRINSICS, keccak.keccak256(FORMS[form]), DRIVER])
        compiled = jit.compile_module(jit.parse(text, 2), "hash", 2)
        _compiled[form] = (compiled, HASH(compiled.address))
    return _compiled[form][1]


def digest(form: str, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    hasher(form)(data, len(data), ctypes.addressof(out))
    # The helper returns the hash as a word (big-endian); stored as i256 it is little-endian.
    return out.raw[::-1]


SIZES = sorted({0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 96, 127, 128, 134, 135} |
               {RATE - 1, RATE, RATE + 1, 2 * RATE - 1, 2 * RATE, 2 * RATE + 1, 1000})  # fmt: skip


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("size", SIZES)
def test_sizes(form: str, size: int) -> None:
    data = bytes((7 * i + size) % 256 for i in range(size))
    assert digest(form, data) == reference(data)


@pytest.mark.parametrize("form", sorted(FORMS))
@given(data=st.one_of(st.binary(max_size=400), st.binary(min_size=32, max_size=32),
                      st.binary(min_size=64, max_size=64)))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_any_input(form: str, data: bytes) -> None:
    assert digest(form, data) == reference(data)


def test_vector_form_uses_three_input_logic_and_rotates() -> None:
    """The premise of the vector form: on AVX-512VL, LLVM fuses and rotates in vector registers."""
    if keccak.host_lanes() is not keccak.VECTOR:
        pytest.skip("the host has no AVX-512VL, so it hashes with i64 lanes")
    text = "\n".join([INTRINSICS, keccak.keccak256(keccak.VECTOR), DRIVER])
    assembly = jit.assembly(jit.parse(text, 2), 2)
    permutation = assembly[assembly.index("evmkiln.keccakf:") :]
    assert permutation.count("vpternlogq") >= 24
    assert permutation.count("vprolq") >= 24
