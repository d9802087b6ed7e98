"""Running a compiled module on a :class:`Frame`: engine, instance slots, the host handler.

One :class:`CompiledContract` owns a wasmtime ``Store`` and a pool of
:class:`_Slot` instances of its module.  A run borrows a free slot (or
instantiates a new one) and returns it afterwards, so a contract that calls
itself -- a builtin re-entering this executable through the host -- gets a
fresh instance instead of clobbering the running one's memory.  Before every
run the slot's EVM memory, stack buffer and control area are reset, so
nothing leaks from one frame into the next.

Builtins see an ordinary :class:`Frame`: around each crossing the handler
copies the gas counter in and out, and for builtins that read or write memory
it copies EVM memory between linear memory and ``frame.memory`` (correct, not
yet incremental).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable

import wasmtime

from evmkiln.backend_wasm.host_bridge import (
    FastCall,
    HostImport,
    memory_address,
)
from evmkiln.backend_wasm.layout import (
    ARGS,
    CTRL_GAS,
    CTRL_MSIZE,
    CTRL_OUT_OFFSET,
    CTRL_OUT_SIZE,
    PAGE,
    STACK,
    STACK_BYTES,
    STATUS_HALT_BASE,
    STATUS_HOST_HALT,
)
from evmkiln.backend_wasm.translate import BUILTIN_IDS, HOST_WORD_OPS, WORD_OP_BASE
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.ir.semantics import BINARY, TERNARY

_ENGINE: wasmtime.Engine | None = None
GAS_LIMIT = 1 << 63
"""Gas is an i64 in generated code; frames never carry this much."""

_I64 = struct.Struct("<q")
_BUILTIN_TABLE = [
    (IMPLEMENTATIONS[name], len(BUILTINS[name].params), BUILTINS[name])
    for name in sorted(BUILTIN_IDS, key=BUILTIN_IDS.__getitem__)
]
_WORD_OPS: list[tuple[Callable[..., int], int]] = [
    ((BINARY[op], 2) if op in BINARY else (TERNARY[op], 3)) for op in HOST_WORD_OPS
]


def engine() -> wasmtime.Engine:
    """The process-wide engine: wide arithmetic on, memories never move."""
    global _ENGINE
    if _ENGINE is None:
        config = wasmtime.Config()
        config.wasm_wide_arithmetic = True
        config.wasm_bulk_memory = True
        config.wasm_multi_value = True
        # The host bridge keeps raw pointers into linear memory.
        config.memory_may_move = False
        config.cranelift_opt_level = "speed"
        # max_wasm_stack stays at wasmtime's default (512 KiB): nested frames
        # re-enter wasm through the host and the host frames in between count
        # against it, so ~100 call levels trap ("call stack exhausted").
        # Raising it is only safe on a thread whose native stack is larger.
        _ENGINE = wasmtime.Engine(config)
    return _ENGINE


class _Slot:
    """One instance of the module with its memory views and the frame it is running."""

    def __init__(self, owner: CompiledContract) -> None:
        store = owner.store
        self.base = owner.memory_base
        self.frame: Frame | None = None
        self.memory_synced = False
        self.host = HostImport(store, self._handle)
        instance = wasmtime.Instance(store, owner.module, [self.host.func])
        exports = instance.exports(store)
        memory, run = exports["memory"], exports["run"]
        assert isinstance(memory, wasmtime.Memory) and isinstance(run, wasmtime.Func)
        self.memory = memory
        self.addr = memory_address(store, self.memory)
        self.header = memoryview((ctypes.c_ubyte * self.base).from_address(self.addr)).cast("B")
        self.call = FastCall(store, run)
        self.store = store

    # -- memory ----------------------------------------------------------------
    def _msize(self) -> int:
        return int(_I64.unpack_from(self.header, CTRL_MSIZE)[0])

    def _read_memory(self) -> bytearray:
        n = self._msize()
        return bytearray(ctypes.string_at(self.addr + self.base, n)) if n else bytearray()

    def _grow_to(self, n: int) -> None:
        """Make linear memory cover ``n`` EVM bytes and set msize (new bytes are zero)."""
        pages = (self.base + n + PAGE - 1) // PAGE
        have = self.memory.size(self.store)
        if pages > have:
            self.memory.grow(self.store, pages - have)
        _I64.pack_into(self.header, CTRL_MSIZE, n)

    def _write_memory(self, data: bytearray) -> None:
        n = len(data)
        self._grow_to(n)
        if n:
            ctypes.memmove(self.addr + self.base, (ctypes.c_char * n).from_buffer(data), n)

    def _read_word(self, slot: int) -> int:
        at = ARGS + 32 * slot
        return int.from_bytes(self.header[at : at + 32], "little")

    # -- the host import -------------------------------------------------------------
    def _handle(self, ident: int) -> int:
        header = self.header
        if ident >= WORD_OP_BASE:
            fn, arity = _WORD_OPS[ident - WORD_OP_BASE]
            value = fn(*[self._read_word(i) for i in range(arity)])
            header[ARGS : ARGS + 32] = value.to_bytes(32, "little")
            return 0
        frame = self.frame
        assert frame is not None
        impl, arity, sig = _BUILTIN_TABLE[ident]
        frame.gas = _I64.unpack_from(header, CTRL_GAS)[0]
        touches_memory = sig.reads_memory or sig.writes_memory
        if touches_memory:
            frame.memory = self._read_memory()
            self.memory_synced = True
            before = len(frame.memory)
        try:
            result = impl(frame, *[self._read_word(i) for i in range(arity)])
        except ExceptionalHalt as halt:
            self.host.error = halt
            return 1
        if result is not None:
            header[ARGS : ARGS + 32] = result.to_bytes(32, "little")
        if sig.writes_memory:
            self._write_memory(frame.memory)
        elif touches_memory and len(frame.memory) != before:
            # A reading builtin still expands memory: the new bytes are zero,
            # and the wasm side's are already zero, so only the size moves.
            self._grow_to(len(frame.memory))
        _I64.pack_into(header, CTRL_GAS, frame.gas)
        return 0

    # -- one frame ----------------------------------------------------------------------
    def execute(self, frame: Frame) -> ExitKind:
        if not 0 <= frame.gas < GAS_LIMIT:
            raise ValueError(f"gas {frame.gas} does not fit the wasm backend's i64 counter")
        addr, base = self.addr, self.base
        # Reset whatever the previous frame left behind.
        ctypes.memset(addr + base, 0, self._msize())
        ctypes.memset(addr + STACK, 0, STACK_BYTES)
        ctypes.memset(addr, 0, ARGS)
        self._write_memory(frame.memory)
        _I64.pack_into(self.header, CTRL_GAS, frame.gas)
        self.frame = frame
        self.memory_synced = False
        self.host.error = None
        try:
            status = self.call()
        finally:
            self.frame = None
        if status == STATUS_HOST_HALT:
            error = self.host.error
            assert error is not None
            self.host.error = None
            if not self.memory_synced:
                frame.memory = self._read_memory()
            raise error
        frame.gas = _I64.unpack_from(self.header, CTRL_GAS)[0]
        frame.memory = self._read_memory()
        if status >= STATUS_HALT_BASE:
            raise ExceptionalHalt(HaltKind(status - STATUS_HALT_BASE))
        kind = ExitKind(status)
        if kind is ExitKind.RETURN or kind is ExitKind.REVERT:
            offset = _I64.unpack_from(self.header, CTRL_OUT_OFFSET)[0]
            size = _I64.unpack_from(self.header, CTRL_OUT_SIZE)[0]
            frame.output = bytes(frame.memory[offset : offset + size]) if size else b""
        return kind


class CompiledContract:
    """A compiled module, its store and its pool of instances."""

    def __init__(self, wasm: bytes, memory_base: int) -> None:
        self.module = wasmtime.Module(engine(), wasm)
        self.store = wasmtime.Store(engine())
        self.memory_base = memory_base
        self._free: list[_Slot] = []
        self.instances = 0

    def run(self, frame: Frame) -> ExitKind:
        slot = self._free.pop() if self._free else self._new_slot()
        try:
            return slot.execute(frame)
        finally:
            self._free.append(slot)

    def _new_slot(self) -> _Slot:
        self.instances += 1
        return _Slot(self)
