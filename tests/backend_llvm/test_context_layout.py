"""The runtime context has one layout on both sides of the native boundary."""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.builtin_bridge import ENTRY_INDEX, ENTRY_NAMES, MEM_EXPAND
from evmkiln.backend_llvm.context_layout import (
    FIELDS,
    RuntimeContext,
    llvm_context_type,
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
