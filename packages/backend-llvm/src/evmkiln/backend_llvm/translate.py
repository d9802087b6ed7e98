"""Translation of one IR function into an LLVM module.

The generated function is ``i32 @name(ptr noalias %ctx)``; it returns the run's
status (also stored in ``ctx.status``).  Each IR block becomes an LLVM basic
block whose parameters are phis; an edge that would give a phi two incoming
values from the same predecessor (``brif`` to one block twice) goes through a
fresh edge block.  Instructions that may halt branch to shared exit blocks, one
per halt kind.  Gas lives in ``ctx.gas`` and is charged with a load, compare,
subtract and store: LLVM keeps it in a register between crossings, and no
pass can delete a charge because each one guards an exit.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from evmkiln.backend_llvm import wordops
from evmkiln.backend_llvm.builtin_bridge import ENTRY_INDEX, MAX_BUILTIN_WORDS, MEM_EXPAND
from evmkiln.backend_llvm.context_layout import (
    FIELD_INDEX,
    STACK_LIMIT,
    STATUS_HALT,
    WORD_BYTES,
    llvm_context_type,
)
from evmkiln.backend_llvm.types import I8, I32, I64, I256, LLVM_TYPE, PTR, const
from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value

CLAMP = 1 << 33
"""Offsets and sizes at or beyond 2**32 are passed to expansion as this value.

Expansion halts for any end beyond ``MEMORY_LIMIT`` (2**32), so clamping a huge
offset or size to 2**33 keeps the outcome identical while fitting in 64 bits.
"""
SMALL = const(I256, 1 << 32)

BUILTIN_FN = ir.FunctionType(I32, [PTR, PTR])
MEM_EXPAND_FN = ir.FunctionType(I32, [PTR, I64, I64])


def translate(function: Function, options: CompileOptions) -> Any:
    """Build the LLVM module for ``function`` (an ``llvmlite.ir.Module``)."""
    return _Translator(function, options).run()


class _Translator:
    def __init__(self, function: Function, options: CompileOptions) -> None:
        self.function = function
        self.metered = options.gas_metering
        self.module = ir.Module(name=function.name)
        self.ctx_type = llvm_context_type()
        self.fn = ir.Function(self.module, ir.FunctionType(I32, [PTR]), function.name)
        self.ctx = self.fn.args[0]
        self.ctx.name = "ctx"
        self.ctx.add_attribute("noalias")
        self.ctx.add_attribute("nonnull")
        self.values: dict[int, Any] = {}
        self.blocks: dict[str, Any] = {}
        self.phis: dict[str, list[Any]] = {}
        self.edges: set[tuple[int, str]] = set()
        self.halt_blocks: dict[HaltKind, Any] = {}
        self.status_exit: Any = None
        self.status_phi: Any = None
        self.dispatch: tuple[Any, Any, Any] | None = None
        self.b = ir.IRBuilder()

    # -- structure ---------------------------------------------------------
    def run(self) -> Any:
        entry = self.fn.append_basic_block("entry")
        for blk in self.function.blocks:
            bb = self.fn.append_basic_block(blk.name)
            self.blocks[blk.name] = bb
            self.b.position_at_end(bb)
            self.phis[blk.name] = [
                self.b.phi(LLVM_TYPE[p.type], name=f"v{p.id}") for p in blk.params
            ]
            for p, phi in zip(blk.params, self.phis[blk.name], strict=True):
                self.values[p.id] = phi
        self.b.position_at_end(entry)
        # Field addresses are computed once; the stack buffer and the entry table
        # do not move during a run, so they are loaded once too.
        self.field_ptrs = {
            name: self.b.gep(
                self.ctx, [const(I32, 0), const(I32, index)], source_etype=self.ctx_type, name=name
            )
            for name, index in FIELD_INDEX.items()
        }
        self.stack_base = self.b.load(self.field_ptrs["stack"], typ=PTR, name="stack_base")
        self.entry_table = self.b.load(self.field_ptrs["entries"], typ=PTR, name="entry_table")
        self.words = self.b.alloca(I256, size=const(I64, MAX_BUILTIN_WORDS), name="words")
        self.words.align = 8
        if self.function.entry.params:
            raise ValueError("the entry block of a function takes no parameters")
        self.b.branch(self.blocks[self.function.entry.name])
        for blk in self.function.blocks:
            self.b.position_at_end(self.blocks[blk.name])
            for inst in blk.insts:
                self.inst(inst)
            assert blk.term is not None
            self.term(blk.term)
        if self.dispatch is not None:
            self.fill_dispatch(*self.dispatch)
        return self.module

    def dispatch_block(self) -> tuple[Any, Any, Any]:
        """The one block every ``djump`` branches to, with phis for the target and sp.

        Sharing it keeps the function linear in jump sites plus destinations;
        a switch per site would give every destination an edge from every site.
        """
        if self.dispatch is None:
            bb = self.fn.append_basic_block("dispatch")
            saved = self.b.block
            self.b.position_at_end(bb)
            target = self.b.phi(I256, "target")
            sp = self.b.phi(I64, "sp")
            self.b.position_at_end(saved)
            self.dispatch = (bb, target, sp)
        return self.dispatch

    def fill_dispatch(self, bb: Any, target: Any, sp: Any) -> None:
        """Switch on the target's low 64 bits once it is known to fit in them."""
        self.b.position_at_end(bb)
        fits = self.b.icmp_unsigned("<", target, const(I256, 1 << 64))
        self.guard(self.b.not_(fits), self.halt_block(HaltKind.INVALID_JUMP), "dispatch_switch")
        switch = self.b.switch(self.b.trunc(target, I64), self.halt_block(HaltKind.INVALID_JUMP))
        dests: dict[str, Any] = {}
        for pc, block in sorted(self.function.jump_table.items()):
            if block.name not in dests:
                dests[block.name] = self.direct_target(block, [sp])
            switch.add_case(const(I64, pc), dests[block.name])

    def field(self, name: str) -> Any:
        return self.field_ptrs[name]

    def load_field(self, name: str, ty: Any = I64) -> Any:
        return self.b.load(self.field(name), typ=ty, name=name)

    def store_field(self, name: str, value: Any) -> None:
        self.b.store(value, self.field(name))

    def halt_block(self, kind: HaltKind) -> Any:
        """The shared exit for ``kind``: record it and return STATUS_HALT."""
        bb = self.halt_blocks.get(kind)
        if bb is None:
            bb = self.fn.append_basic_block(f"exit_{kind.name.lower()}")
            saved = self.b.block
            self.b.position_at_end(bb)
            self.store_field("halt_kind", const(I64, int(kind)))
            self.ret_status(const(I64, STATUS_HALT))
            self.b.position_at_end(saved)
            self.halt_blocks[kind] = bb
        return bb

    def status_block(self) -> Any:
        """Exit with a status a crossing returned (the crossing filled ``ctx``)."""
        if self.status_exit is None:
            bb = self.fn.append_basic_block("exit_crossing")
            saved = self.b.block
            self.b.position_at_end(bb)
            self.status_phi = self.b.phi(I32, "status")
            self.ret_status(self.b.zext(self.status_phi, I64))
            self.b.position_at_end(saved)
            self.status_exit = bb
        return self.status_exit

    def ret_status(self, status: Any) -> None:
        self.store_field("status", status)
        self.b.ret(self.b.trunc(status, I32))

    def guard(self, failed: Any, target: Any, name: str) -> None:
        """Branch to ``target`` when ``failed``, otherwise continue in a new block."""
        cont = self.fn.append_basic_block(name)
        self.b.cbranch(failed, target, cont)
        self.b.position_at_end(cont)

    def check_status(self, status: Any) -> None:
        exit_bb = self.status_block()
        self.status_phi.add_incoming(status, self.b.block)
        self.guard(self.b.icmp_unsigned("!=", status, const(I32, 0)), exit_bb, "ok")

    # -- instructions -------------------------------------------------------
    def v(self, value: Value) -> Any:
        return self.values[value.id]

    def inst(self, inst: Inst) -> None:
        op = inst.opcode
        args = [self.v(a) for a in inst.args]
        b = self.b
        result: Any = None
        if op.startswith("const."):
            result = const(LLVM_TYPE[inst.results[0].type], int(inst.imms[0]))
        elif op in wordops.BINARY:
            result = wordops.BINARY[op](b, *args)
        elif op in wordops.TERNARY:
            result = wordops.TERNARY[op](b, *args)
        elif op in wordops.UNARY:
            result = wordops.UNARY[op](b, *args)
        elif op == "istrue":
            result = b.icmp_unsigned("!=", args[0], wordops.ZERO)
        elif op == "zext":
            result = b.zext(args[0], I256)
        elif op == "bytelen":
            result = wordops.bytelen(b, args[0])
        elif op == "iadd":
            result = b.add(*args)
        elif op == "imul":
            result = b.mul(*args)
        elif op == "iadd_imm":
            result = b.add(args[0], const(I64, int(inst.imms[0])))
        elif op == "gas.charge":
            if self.metered:
                self.charge(const(I64, int(inst.imms[0])))
        elif op == "gas.charge_dyn":
            if self.metered:
                self.charge(args[0])
        elif op == "gas.left":
            result = self.load_field("gas")
        elif op == "mem.access":
            self.mem_access(inst, args[0])
            return
        elif op == "mem.region":
            self.mem_region(inst, args[0], args[1])
            return
        elif op == "mload":
            result = b.bswap(b.load(self.mem_addr(args[0]), typ=I256, align=1))
        elif op == "mstore":
            b.store(b.bswap(args[1]), self.mem_addr(args[0]), align=1)
        elif op == "mstore8":
            b.store(b.trunc(args[1], I8), self.mem_addr(args[0]), align=1)
        elif op == "msize":
            result = self.load_field("mem_len")
        elif op == "stack.check":
            self.stack_check(args[0], int(inst.imms[0]), int(inst.imms[1]))
        elif op == "stack.load":
            result = b.load(self.stack_addr(args[0], int(inst.imms[0])), typ=I256, align=8)
        elif op == "stack.store":
            b.store(args[1], self.stack_addr(args[0], int(inst.imms[0])), align=8)
        elif op == "call":
            result = self.call_builtin(str(inst.imms[0]), args)
        else:
            raise NotImplementedError(f"LLVM backend cannot translate {op}")
        if inst.results:
            assert result is not None and len(inst.results) == 1, op
            self.values[inst.results[0].id] = result

    def charge(self, amount: Any) -> None:
        gas = self.load_field("gas")
        self.guard(
            self.b.icmp_unsigned(">", amount, gas), self.halt_block(HaltKind.OUT_OF_GAS), "gas_ok"
        )
        self.store_field("gas", self.b.sub(gas, amount))

    def mem_addr(self, offset: Any) -> Any:
        base = self.load_field("mem_ptr", PTR)
        return self.b.gep(base, [offset], source_etype=I8)

    def clamp(self, word: Any) -> Any:
        small = self.b.icmp_unsigned("<", word, SMALL)
        return self.b.select(small, self.b.trunc(word, I64), const(I64, CLAMP))

    def expand_slow(self, offset: Any, size: Any) -> None:
        """Call the expansion entry (gas and the memory limit are applied in Python)."""
        fnptr = self.entry_pointer(MEM_EXPAND, MEM_EXPAND_FN)
        status = self.b.call(fnptr, [self.ctx, offset, size])
        self.check_status(status)

    def mem_access(self, inst: Inst, offset: Any) -> None:
        size = int(inst.imms[0])
        b = self.b
        small = b.icmp_unsigned("<", offset, SMALL)
        off64 = b.trunc(offset, I64)
        end = b.add(off64, const(I64, size))
        fits = b.and_(small, b.icmp_unsigned("<=", end, self.load_field("mem_len")))
        self.values[inst.results[0].id] = off64
        with b.if_then(b.not_(fits), likely=False):
            self.expand_slow(self.clamp(offset), const(I64, size))

    def mem_region(self, inst: Inst, offset: Any, size: Any) -> None:
        b = self.b
        nonzero = b.icmp_unsigned("!=", size, wordops.ZERO)
        off64, size64 = b.trunc(offset, I64), b.trunc(size, I64)
        zero64 = const(I64, 0)
        self.values[inst.results[0].id] = b.select(nonzero, off64, zero64)
        self.values[inst.results[1].id] = b.select(nonzero, size64, zero64)
        both_small = b.and_(b.icmp_unsigned("<", offset, SMALL), b.icmp_unsigned("<", size, SMALL))
        fits = b.and_(
            both_small, b.icmp_unsigned("<=", b.add(off64, size64), self.load_field("mem_len"))
        )
        with b.if_then(b.and_(nonzero, b.not_(fits)), likely=False):
            self.expand_slow(self.clamp(offset), self.clamp(size))

    def stack_check(self, sp: Any, minimum: int, growth: int) -> None:
        # The stack pointer starts at 0 and only ever passes these checks, so it is
        # never negative: a minimum of 0 needs no test.  (Were it ever wrong,
        # ``stack_addr`` still keeps every access inside the buffer.)
        b = self.b
        if minimum > 0:
            self.guard(
                b.icmp_signed("<", sp, const(I64, minimum)),
                self.halt_block(HaltKind.STACK_UNDERFLOW),
                "stack_min_ok",
            )
        self.guard(
            b.icmp_signed(">", sp, const(I64, STACK_LIMIT - growth)),
            self.halt_block(HaltKind.STACK_OVERFLOW),
            "stack_max_ok",
        )

    def stack_addr(self, sp: Any, slot: int) -> Any:
        # Masking keeps the address inside the buffer whatever the index; after
        # ``stack.check`` it never changes the index (and it mirrors the
        # reference's Python list wrap-around for negative indices).
        b = self.b
        index = b.and_(b.add(sp, const(I64, slot)), const(I64, STACK_LIMIT - 1))
        offset = b.mul(index, const(I64, WORD_BYTES))
        return b.gep(self.stack_base, [offset], source_etype=I8)

    def entry_pointer(self, slot: int, fnty: Any) -> Any:
        """Load entry ``slot``; the typed pointer lets llvmlite emit an indirect call."""
        slot_addr = self.b.gep(self.entry_table, [const(I64, slot)], source_etype=PTR)
        return self.b.load(slot_addr, typ=fnty.as_pointer())

    def call_builtin(self, name: str, args: list[Any]) -> Any:
        sig = BUILTINS[name]
        if len(args) != len(sig.params):
            raise ValueError(f"builtin {name} takes {len(sig.params)} words, got {len(args)}")
        b = self.b
        for i, arg in enumerate(args):
            slot = b.gep(self.words, [const(I64, i)], source_etype=I256)
            b.store(arg, slot, align=8)
        fnptr = self.entry_pointer(ENTRY_INDEX[name], BUILTIN_FN)
        status = b.call(fnptr, [self.ctx, self.words])
        self.check_status(status)
        if sig.results:
            return b.load(self.words, typ=I256, align=8)
        return None

    # -- terminators ----------------------------------------------------------
    def target(self, call: BlockCall) -> Any:
        """The LLVM block to branch to for ``call``, wiring its phis from here."""
        pred = self.b.block
        key = (id(pred), call.block.name)
        if key in self.edges:
            # A second edge from the same block: route it through its own block.
            edge = self.fn.append_basic_block(f"edge_{call.block.name}")
            edge_builder = ir.IRBuilder(edge)
            edge_builder.branch(self.blocks[call.block.name])
            pred = edge
            dest = edge
        else:
            self.edges.add(key)
            dest = self.blocks[call.block.name]
        for phi, arg in zip(self.phis[call.block.name], call.args, strict=True):
            phi.add_incoming(self.v(arg), pred)
        return dest

    def direct_target(self, block: Block, args: list[Any]) -> Any:
        pred = self.b.block
        key = (id(pred), block.name)
        assert key not in self.edges
        self.edges.add(key)
        for phi, arg in zip(self.phis[block.name], args, strict=True):
            phi.add_incoming(arg, pred)
        return self.blocks[block.name]

    def term(self, inst: Inst) -> None:
        op = inst.opcode
        b = self.b
        args = [self.v(a) for a in inst.args]
        if op == "jump":
            b.branch(self.target(inst.targets[0]))
        elif op == "brif":
            then = self.target(inst.targets[0])
            other = self.target(inst.targets[1])
            b.cbranch(args[0], then, other)
        elif op == "djump":
            dispatch, target_phi, sp_phi = self.dispatch_block()
            target_phi.add_incoming(args[0], b.block)
            sp_phi.add_incoming(args[1], b.block)
            b.branch(dispatch)
        elif op == "stop":
            self.ret_status(const(I64, int(ExitKind.STOP)))
        elif op in ("return", "revert"):
            self.store_field("out_offset", args[0])
            self.store_field("out_size", args[1])
            kind = ExitKind.RETURN if op == "return" else ExitKind.REVERT
            self.ret_status(const(I64, int(kind)))
        elif op == "selfdestruct":
            self.call_builtin("selfdestruct", args)
            self.ret_status(const(I64, int(ExitKind.SELFDESTRUCT)))
        elif op == "halt":
            b.branch(self.halt_block(HaltKind(int(inst.imms[0]))))
        else:
            raise NotImplementedError(f"LLVM backend cannot translate terminator {op}")
