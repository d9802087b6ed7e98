"""The runtime context has one layout on both sides of the native boundary."""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
from hypothesis import given
from hypothesis import strategies as st

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.builtin_bridge import ENTRY_INDEX, ENTRY_NAMES, MEM_EXPAND
from evmkiln.backend_llvm.context_layout import (
    FIELDS,
    RuntimeContext,
    llvm_context_type,
    message_words,
)
from evmkiln.builtins.table import BUILTINS


def test_ctypes_and_llvm_layouts_agree() -> None:
    struct = llvm_context_type()
    module = llvm.parse_assembly(f"@ctx = external global {struct}")
    target_data = jit.target_machine(0).target_data
    ty = module.get_global_variable("ctx").global_value_type
    assert target_data.get_abi_size(ty) == ctypes.sizeof(RuntimeContext)
    for index, (name, _) in enumerate(FIELDS):
        offset = target_data.get_element_offset(ty, index)
        assert offset == getattr(RuntimeContext, name).offset, name


def test_entry_table_covers_every_builtin() -> None:
    assert ENTRY_NAMES[MEM_EXPAND] == "mem.expand"
    assert set(ENTRY_NAMES[1:]) == set(BUILTINS)
    assert all(ENTRY_NAMES[i] == name for name, i in ENTRY_INDEX.items())


@given(
    value=st.integers(0, 2**256 - 1),
    caller=st.binary(min_size=0, max_size=32),
    address=st.binary(min_size=0, max_size=32),
)
def test_message_words_are_the_three_little_endian_words(
    value: int, caller: bytes, address: bytes
) -> None:
    words = message_words(value, caller, address)
    assert len(words) == 96
    assert int.from_bytes(words[:32], "little") == value
    assert int.from_bytes(words[32:64], "little") == int.from_bytes(caller, "big")
    assert int.from_bytes(words[64:], "little") == int.from_bytes(address, "big")


def test_message_words_of_twenty_byte_addresses() -> None:
    caller, address = bytes(range(1, 21)), bytes(range(100, 120))
    words = message_words(0, caller, address)
    assert words[:32] == bytes(32)
    assert words[32:52] == caller[::-1] and words[52:64] == bytes(12)
    assert words[64:84] == address[::-1] and words[84:] == bytes(12)
