"""The runtime context has one layout on both sides of the native boundary."""

from __future__ import annotations

import ctypes
import gc
from typing import cast

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.builtin_bridge import ENTRY_INDEX, ENTRY_NAMES, MEM_EXPAND, RunState
from evmkiln.backend_llvm.context_layout import (
    FIELDS,
    RuntimeContext,
    llvm_context_type,
)
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.host import Host
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


def _pointed(ctx: RuntimeContext, name: str) -> bytes:
    """The bytes a ``*_ptr``/``*_len`` pair of the context points at."""
    base = ctypes.addressof(ctx)
    pointer = ctypes.c_uint64.from_address(base + getattr(RuntimeContext, f"{name}_ptr").offset)
    length = ctypes.c_int64.from_address(base + getattr(RuntimeContext, f"{name}_len").offset)
    return ctypes.string_at(pointer.value, length.value)


def test_a_run_state_points_at_the_frames_bytes_and_keeps_them_alive() -> None:
    """Call data, code and return data are written into the context as addresses of
    ``bytes`` objects: the right bytes, whatever type the frame holds them in, for as
    long as the context points at them (here after the frame is gone)."""
    frame = Frame(
        host=cast("Host", None),
        gas=1000,
        code=bytearray(b"\x60\x01\x00"),
        calldata=memoryview(b"call data " * 7),
        address=bytes(20),
        caller=bytes(20),
        value=0,
        is_static=False,
        depth=0,
    )
    frame.returndata = b"returned"
    state = RunState.begin(frame)
    try:
        ctx = state.ctx
        assert _pointed(ctx, "calldata") == b"call data " * 7
        assert _pointed(ctx, "code") == b"\x60\x01\x00"
        assert _pointed(ctx, "returndata") == b"returned"
        assert (ctx.status, ctx.halt_kind, ctx.out_offset, ctx.out_size) == (0, 0, 0, 0)
        frame.returndata = bytearray(b"a child's output")
        state.borrow_returndata()
        assert _pointed(ctx, "returndata") == b"a child's output"
    finally:
        state.end()
    del frame
    gc.collect()
    assert _pointed(ctx, "calldata") == b"call data " * 7
    assert _pointed(ctx, "returndata") == b"a child's output"
