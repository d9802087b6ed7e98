"""Builtins reach EVM memory through a view of linear memory, not per-call copies."""

from __future__ import annotations

from typing import Any

import pytest
from wasm_compare import WASM, FakeHost, assert_same, new_frame

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.runtime import LinearMemoryView
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.codegen.backend import TRACE_PREIMAGES, CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode


def _push(value: int) -> bytes:
    return bytes([0x7F]) + value.to_bytes(32, "big")


# Grow memory to 64 KiB with a store, then hash, copy, log and copy call data
# around it: every memory-touching builtin kind, each with a small range.
PROGRAM = (
    _push(0x1234) + _push(0xFFE0) + b"\x52"  # MSTORE at 0xffe0
    + _push(2**255 + 7) + _push(0x40) + b"\x52"
    + _push(0x40) + _push(0x20) + b"\x20" + _push(0x80) + b"\x52"  # KECCAK256 -> 0x80
    + _push(0x40) + _push(0x30) + _push(0x50) + b"\x5e"  # MCOPY overlapping
    + _push(0x24) + _push(0x0) + _push(0x10000) + b"\x37"  # CALLDATACOPY, expands
    + _push(0x11) + _push(0x60) + _push(0x45) + b"\xa1"  # LOG1
    + _push(0x100) + _push(0xFF80) + b"\xf3"  # RETURN 256 bytes near the top
)  # fmt: skip


def test_memory_builtins_match_reference() -> None:
    assert_same(PROGRAM, calldata=bytes(range(1, 60)))


def test_memory_is_copied_out_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = runtime._Slot._read_memory

    def counting(self: Any) -> bytearray:
        nonlocal calls
        calls += 1
        return original(self)

    monkeypatch.setattr(runtime._Slot, "_read_memory", counting)
    host = FakeHost(WASM)
    frame = new_frame(host, PROGRAM, 1_000_000, bytes(40))
    WASM.compile(lower_bytecode(PROGRAM)).run(frame)
    assert calls == 1
    assert (
        isinstance(frame.memory, bytearray) and len(frame.memory) == 0x10080
    )  # RETURN reaches 0x10080


def test_view_behaves_like_a_bytearray_and_dies_with_its_run() -> None:
    # A stand-in for KECCAK256 (a builtin that reads memory in Python; the
    # tracing compile crosses for it) inspects the view it is handed during
    # the run.
    seen: list[LinearMemoryView] = []

    def probe(frame: Frame, offset: int, size: int) -> int:
        memory = frame.memory
        assert isinstance(memory, LinearMemoryView)
        seen.append(memory)
        assert len(memory) == 64
        assert memory[31] == 0x2A and memory[-33] == 0x2A
        assert memory[30:34] == b"\x00\x2a\x00\x00"
        assert memory[60:100] == b"\x00\x00\x00\x2a"  # clamped at msize like a bytearray
        memory[0:2] = b"\xab\xcd"
        memory[2] = 0xEF
        with pytest.raises(ValueError):
            memory[0:2] = b"\x01"
        with pytest.raises(IndexError):
            memory[64] = 1
        memory.extend(bytes(32))
        assert len(memory) == 96 and bytes(memory)[:3] == b"\xab\xcd\xef"
        return 0

    code = bytes([0x60, 0x2A, 0x5F, 0x52, 0x60, 0x2A, 0x60, 0x20, 0x52])  # MSTORE 42 at 0, 32
    code += bytes([0x60, 0x20, 0x5F, 0x20, 0x59, 0x60, 0x40, 0x52, 0x60, 0x60, 0x5F, 0xF3])
    original = IMPLEMENTATIONS["keccak256"]
    # The runtime's dispatch table holds the implementation: patch it there.
    table = runtime._BUILTIN_TABLE
    index = next(i for i, entry in enumerate(table) if entry[0] is original)
    table[index] = (probe, *table[index][1:])
    try:
        frame = new_frame(FakeHost(WASM), code, 100_000)
        tracing = CompileOptions(extra={TRACE_PREIMAGES: True})
        WASM.compile(lower_bytecode(code), tracing).run(frame)
    finally:
        table[index] = (original, *table[index][1:])
    assert frame.output[:3] == b"\xab\xcd\xef" and frame.output[-1] == 96  # MSIZE grew
    assert isinstance(frame.memory, bytearray)
    with pytest.raises(RuntimeError, match="after its run ended"):
        len(seen[0])
