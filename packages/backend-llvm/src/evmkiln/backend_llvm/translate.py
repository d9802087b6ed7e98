"""Translation of one IR function into an LLVM module, written as LLVM IR text.

Building the module as text is several times faster than building
``llvmlite.ir`` objects and printing them, and LLVM parses it directly.

The generated function is ``i32 @name(ptr noalias %ctx)``; it returns the run's
status (also stored in ``ctx.status``).  Each IR block becomes an LLVM basic
block whose parameters are phis; an edge that would give a phi two incoming
values from the same predecessor (``brif`` to one block twice) goes through a
fresh edge block.  Instructions that may halt branch to shared exit blocks, one
per halt kind, with branch weights that mark the exit cold.

Gas, the memory pointer and the memory length live in stack slots that SROA
turns into SSA values: they are written back to ``ctx`` before every crossing
into Python and at every exit, and re-read after every crossing.  No pass can
delete a charge because each one guards an exit.

Memory expansion stays in Python (the bytearray must grow); the common case,
an access inside the current memory, is an inline compare.  The builtins of
:data:`evmkiln.backend_llvm.native.NATIVE_BUILTINS` never cross.
"""

from __future__ import annotations

from collections.abc import Callable

from evmkiln.backend_llvm import native, wordops
from evmkiln.backend_llvm.builtin_bridge import ENTRY_INDEX, LOG_BUILTINS, MAX_BUILTIN_WORDS
from evmkiln.backend_llvm.context_layout import (
    FIELD_OFFSET,
    FIELDS,
    STACK_LIMIT,
    STATUS_HALT,
    WORD_BYTES,
)
from evmkiln.backend_llvm.inline_division import DIVISIONS, emit_division
from evmkiln.backend_llvm.log_buffer import HEADER_BYTES, SIZE_SHIFT, TOPIC_BYTES
from evmkiln.backend_llvm.shared_helpers import SHARED
from evmkiln.backend_llvm.storage_cache import (
    DIRTY,
    ENTRY_BYTES,
    FLAGS_OFFSET,
    GENERATION_OFFSET,
    HASH_MULTIPLIER,
    HASH_SHIFT,
    KEY_OFFSET,
    ORIGINAL_KNOWN,
    ORIGINAL_OFFSET,
    TRANSIENT,
    TRANSIENT_SALT,
    VALUE_OFFSET,
)
from evmkiln.backend_llvm.text_budget import LLVM_LINES
from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.impl.gas import (
    KECCAK_WORD,
    LOG_DATA_BYTE,
    LOG_TOPIC,
    SSTORE_SENTRY,
    WARM_STORAGE_READ,
)
from evmkiln.builtins.memory import GAS_COPY_WORD
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import CompileOptions, ExitKind, traces_preimages
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value
from evmkiln.codegen.ir.types import Type

CLAMP = 1 << 33
"""Offsets and sizes at or beyond 2**32 are passed to expansion as this value.

Expansion halts for any end beyond ``MEMORY_LIMIT`` (2**32), so clamping a huge
offset or size to 2**33 keeps the outcome identical while fitting in 64 bits.
"""
SMALL = 1 << 32

LLVM_TYPE: dict[Type, str] = {Type.I1: "i1", Type.I64: "i64", Type.I256: "i256"}
_FIELD_TYPE = {"i64": "i64", "ptr": "ptr", "bytes": "ptr", "word": "i256"}
FIELD_TYPE: dict[str, str] = {name: _FIELD_TYPE[kind] for name, kind in FIELDS}

COLD = "!prof !0"
"""Branch weights for a branch whose *true* edge is (almost) never taken."""
METADATA = """!0 = !{!"branch_weights", i32 1, i32 1048575}
!1 = !{!"branch_weights", i32 1048575, i32 1}"""


def translate(function: Function, options: CompileOptions, *, shared_helpers: bool = False) -> str:
    """The LLVM IR text of the module for ``function``.

    With ``shared_helpers`` the helpers of :data:`~.shared_helpers.SHARED` are
    only declared: the module is for this process's JIT, which links them
    (:func:`~.shared_helpers.ensure`).  Without, the module defines every
    helper it calls, as an artifact must.
    """
    return _Translator(function, options, shared_helpers).run()


class _Translator:
    def __init__(self, function: Function, options: CompileOptions, shared: bool) -> None:
        self.function = function
        self.shared = shared
        self.metered = options.gas_metering
        self.native_builtins = native.NATIVE_BUILTINS
        if traces_preimages(options):  # the host's builtin tells the frame's hook
            self.native_builtins = native.NATIVE_BUILTINS - {"keccak256"}
        self.lines: list[str] = []
        self.counter = 0
        self.values: dict[int, str] = {}
        self.types: dict[int, str] = {}
        self.block = ""
        """Label of the LLVM block being written."""
        self.incoming: dict[str, list[tuple[str, list[str]]]] = {}
        self.phi_slots: dict[str, int] = {}
        self.edges: set[tuple[str, str]] = set()
        self.halt_kinds: set[HaltKind] = set()
        self.status_incoming: list[tuple[str, str]] = []
        self.dispatch_incoming: list[tuple[str, str, str]] = []
        self.helpers: dict[str, str] = {}
        self.label_of = {blk.name: f"B.{blk.name}" for blk in function.blocks}
        self.blocks = {blk.name: blk for blk in function.blocks}

    # -- emission ------------------------------------------------------------
    def op(self, text: str) -> str:
        self.counter += 1
        name = f"%x{self.counter}"
        self.lines.append(f"  {name} = {text}")
        return name

    def emit(self, text: str) -> None:
        self.lines.append(f"  {text}")

    def need(self, helper: str) -> None:
        if helper not in self.helpers:
            if self.shared and helper in SHARED:
                self.helpers[helper] = SHARED[helper]
                return
            source = wordops.HELPERS.get(helper) or native.HELPERS[helper]
            self.helpers[helper] = source
            for dependency in wordops.REQUIRES.get(helper, ()):
                self.need(dependency)

    def new_label(self, hint: str) -> str:
        self.counter += 1
        return f"L{self.counter}.{hint}"

    def start(self, label: str) -> None:
        self.lines.append(f"{label}:")
        self.block = label

    def guard(self, failed: str, target: str, hint: str) -> None:
        """Branch (cold) to ``target`` when ``failed``, otherwise continue in a new block."""
        cont = self.new_label(hint)
        self.emit(f"br i1 {failed}, label %{target}, label %{cont}, {COLD}")
        self.start(cont)

    # -- structure -----------------------------------------------------------
    def run(self) -> str:
        fn = self.function
        if fn.entry.params:
            raise ValueError("the entry block of a function takes no parameters")
        self.start("entry")
        # Field addresses are computed once; the stack buffer and the entry table
        # do not move during a run, so they are loaded once too.
        for name, offset in FIELD_OFFSET.items():
            self.emit(f"%f.{name} = getelementptr inbounds i8, ptr %ctx, i64 {offset}")
        self.emit("%gas.slot = alloca i64, align 8")
        self.emit("%dispatch.sp.slot = alloca i64, align 8")
        self.emit("%mem_ptr.slot = alloca ptr, align 8")
        self.emit("%mem_len.slot = alloca i64, align 8")
        self.emit(f"%words = alloca i256, i64 {MAX_BUILTIN_WORDS}, align 8")
        self.emit("%stack_base = load ptr, ptr %f.stack, align 8")
        self.emit("%entry_table = load ptr, ptr %f.entries, align 8")
        self.reload_state()
        self.emit(f"br label %{self.label_of[fn.entry.name]}")
        code_length = len(fn.code)
        line_limit = LLVM_LINES.for_code(code_length)
        for blk in fn.blocks:
            if len(self.lines) > line_limit:
                LLVM_LINES.check(len(self.lines), code_length)
            self.start(self.label_of[blk.name])
            self.phi_slots[blk.name] = len(self.lines)
            self.lines.append("")  # the phis, written once every edge is known
            for p in blk.params:
                self.values[p.id] = f"%v{p.id}"
                self.types[p.id] = LLVM_TYPE[p.type]
            for inst in blk.insts:
                self.inst(inst)
            assert blk.term is not None
            self.term(blk.term)
        if self.dispatch_incoming:
            self.fill_dispatch()
        self.exits()
        LLVM_LINES.check(len(self.lines), code_length)
        for blk in fn.blocks:
            self.lines[self.phi_slots[blk.name]] = self.phis(blk)
        body = "\n".join(self.lines)
        parts = [
            f"define i32 @{_quote(fn.name)}(ptr noalias nonnull %ctx) nounwind {{\n{body}\n}}",
            *self.helpers.values(),
            native.INTRINSICS,
            METADATA,
        ]
        return "\n\n".join(parts) + "\n"

    def phis(self, blk: Block) -> str:
        incoming = self.incoming.get(blk.name, [])
        out = []
        for i, p in enumerate(blk.params):
            ty = LLVM_TYPE[p.type]
            if incoming:
                pairs = ", ".join(f"[ {args[i]}, %{pred} ]" for pred, args in incoming)
                out.append(f"  %v{p.id} = phi {ty} {pairs}")
            else:  # unreachable block: any value will do
                out.append(f"  %v{p.id} = add {ty} 0, 0")
        return "\n".join(out)

    def fill_dispatch(self) -> None:
        """One block every ``djump`` branches to; switch on the target's low 64 bits.

        Sharing it keeps the function linear in jump sites plus destinations;
        a switch per site would give every destination an edge from every site.

        The switch enters each destination through a landing block of its own,
        so that the destination's phis never take a value from the switch
        itself: for each such incoming value SROA counts the switch's
        successors, which made promoting the gas slot quadratic in the size of
        the jump table (11 s for 24 KB of JUMPDESTs behind one dynamic jump).
        A destination the dispatch alone enters would then receive the very
        same ``sp`` as every other such destination, and InstCombine, for
        each known-bits query on that value, visits every branch on it (each
        destination's stack check): 16 s for 24 KB of ``JUMPDEST PUSH0 PUSH0
        PUSH0 CALLDATALOAD JUMP``.  Its landing block reads ``sp`` afresh from
        a slot SROA leaves alone (volatile) instead.
        """
        self.start("dispatch")
        targets = ", ".join(f"[ {t}, %{pred} ]" for pred, t, _ in self.dispatch_incoming)
        sps = ", ".join(f"[ {sp}, %{pred} ]" for pred, _, sp in self.dispatch_incoming)
        self.emit(f"%dispatch.target = phi i256 {targets}")
        self.emit(f"%dispatch.sp = phi i64 {sps}")
        self.emit("store volatile i64 %dispatch.sp, ptr %dispatch.sp.slot, align 8")
        fits = self.op("icmp ult i256 %dispatch.target, 18446744073709551616")
        invalid = self.halt_label(HaltKind.INVALID_JUMP)
        self.emit(f"br i1 {fits}, label %dispatch.switch, label %{invalid}")
        self.start("dispatch.switch")
        low = self.op("trunc i256 %dispatch.target to i64")
        cases = []
        case_label: dict[str, str] = {}
        landings: list[str] = []
        for pc, block in sorted(self.function.jump_table.items()):
            label = case_label.get(block.name)
            if label is None:
                label = case_label[block.name] = f"dispatch.to.{block.name}"
                landing = [f"{label}:"]
                sp = "%dispatch.sp"
                if block.name not in self.incoming:
                    sp = f"%dispatch.sp.{block.name}"
                    landing.append(f"  {sp} = load volatile i64, ptr %dispatch.sp.slot, align 8")
                landing.append(f"  br label %{self.label_of[block.name]}")
                landings.append("\n".join(landing))
                key = (label, block.name)
                assert key not in self.edges
                self.edges.add(key)
                self.incoming.setdefault(block.name, []).append((label, [sp]))
            cases.append(f"i64 {pc}, label %{label}")
        self.emit(f"switch i64 {low}, label %{invalid} [ {' '.join(cases)} ]")
        self.lines.extend(landings)

    def halt_label(self, kind: HaltKind) -> str:
        self.halt_kinds.add(kind)
        return f"exit.{kind.name.lower()}"

    def exits(self) -> None:
        for kind in sorted(self.halt_kinds):
            self.start(self.halt_label(kind))
            self.emit(f"store i64 {int(kind)}, ptr %f.halt_kind, align 8")
            self.ret_status(str(STATUS_HALT))
        if self.status_incoming:
            # A crossing returned a status (and filled ``ctx``, gas included).
            self.start("exit.crossing")
            pairs = ", ".join(f"[ {s}, %{pred} ]" for pred, s in self.status_incoming)
            status = self.op(f"phi i32 {pairs}")
            self.emit(f"store i64 {self.op(f'zext i32 {status} to i64')}, ptr %f.status, align 8")
            self.emit(f"ret i32 {status}")

    def ret_status(self, status: str) -> None:
        self.sync_gas()
        self.emit(f"store i64 {status}, ptr %f.status, align 8")
        self.emit(f"ret i32 {status}")

    # -- state kept in slots -------------------------------------------------
    def gas(self) -> str:
        return self.op("load i64, ptr %gas.slot, align 8")

    def sync_gas(self) -> None:
        self.emit(f"store i64 {self.gas()}, ptr %f.gas, align 8")

    def reload_state(self) -> None:
        """Re-read what a crossing may have changed: gas and the memory borrow."""
        for name, ty in (("gas", "i64"), ("mem_ptr", "ptr"), ("mem_len", "i64")):
            value = self.op(f"load {ty}, ptr %f.{name}, align 8")
            self.emit(f"store {ty} {value}, ptr %{name}.slot, align 8")

    def load_field(self, name: str) -> str:
        return self.op(f"load {FIELD_TYPE[name]}, ptr %f.{name}, align 8")

    def cross(self, call: str) -> None:
        """A call into Python: ``ctx.gas`` is exact across it; a non-zero status exits."""
        self.sync_gas()
        status = self.op(call)
        self.reload_state()
        failed = self.op(f"icmp ne i32 {status}, 0")
        self.status_incoming.append((self.block, status))
        self.guard(failed, "exit.crossing", "ok")

    # -- instructions --------------------------------------------------------
    def v(self, value: Value) -> str:
        return self.values[value.id]

    def inst(self, inst: Inst) -> None:
        op = inst.opcode
        args = [self.v(a) for a in inst.args]
        result: str | None = None
        if op.startswith("const."):
            result = wordops.word(int(inst.imms[0]), 256 if op == "const.i256" else 64)
        elif op in DIVISIONS:
            result = emit_division(self, op, args[0], args[1])
        elif op in wordops.BINARY:
            result = wordops.BINARY[op](self, *args)
        elif op in wordops.TERNARY:
            result = wordops.TERNARY[op](self, *args)
        elif op in wordops.UNARY:
            result = wordops.UNARY[op](self, *args)
        elif op == "istrue":
            result = self.op(f"icmp ne i256 {args[0]}, 0")
        elif op == "zext":
            result = self.op(f"zext i64 {args[0]} to i256")
        elif op == "bytelen":
            result = wordops.bytelen(self, args[0])
        elif op == "iadd":
            result = self.op(f"add i64 {args[0]}, {args[1]}")
        elif op == "imul":
            result = self.op(f"mul i64 {args[0]}, {args[1]}")
        elif op == "iadd_imm":
            result = self.op(f"add i64 {args[0]}, {wordops.word(int(inst.imms[0]), 64)}")
        elif op == "gas.charge":
            if self.metered:
                self.charge(wordops.word(int(inst.imms[0]), 64))
        elif op == "gas.charge_dyn":
            if self.metered:
                self.charge(args[0])
        elif op == "gas.left":
            result = self.gas()
        elif op == "mem.access":
            result = self.mem_access(args[0], int(inst.imms[0]))
        elif op == "mem.region":
            off, size = self.mem_region(args[0], args[1])
            self.set(inst.results[0], off)
            self.set(inst.results[1], size)
            return
        elif op == "mload":
            raw = self.op(f"load i256, ptr {self.mem_addr(args[0])}, align 1")
            result = self.op(f"call i256 @llvm.bswap.i256(i256 {raw})")
        elif op == "mstore":
            swapped = self.op(f"call i256 @llvm.bswap.i256(i256 {args[1]})")
            self.emit(f"store i256 {swapped}, ptr {self.mem_addr(args[0])}, align 1")
        elif op == "mstore8":
            byte = self.op(f"trunc i256 {args[1]} to i8")
            self.emit(f"store i8 {byte}, ptr {self.mem_addr(args[0])}, align 1")
        elif op == "msize":
            result = self.op("load i64, ptr %mem_len.slot, align 8")
        elif op == "stack.check":
            self.stack_check(args[0], int(inst.imms[0]), int(inst.imms[1]))
        elif op == "stack.load":
            addr = self.stack_addr(args[0], int(inst.imms[0]))
            result = self.op(f"load i256, ptr {addr}, align 8")
        elif op == "stack.store":
            addr = self.stack_addr(args[0], int(inst.imms[0]))
            self.emit(f"store i256 {args[1]}, ptr {addr}, align 8")
        elif op == "call":
            result = self.call_builtin(str(inst.imms[0]), args)
        else:
            raise NotImplementedError(f"LLVM backend cannot translate {op}")
        if inst.results:
            assert result is not None and len(inst.results) == 1, op
            self.set(inst.results[0], result)

    def set(self, value: Value, name: str) -> None:
        self.values[value.id] = name

    def charge(self, amount: str) -> None:
        """Subtract ``amount`` (i64) from gas; halt OUT_OF_GAS if there is not enough.

        The subtraction and its check are one ``usub.with.overflow``.  Written
        as ``icmp ugt`` and ``sub``, InstCombine folds a chain of constant
        charges into ``gas0 - k`` and then, for every check, walks every
        dominating check on ``gas0``: quadratic in the number of blocks in a
        row (a contract of 24 KB of JUMPDESTs took minutes); the intrinsic
        is left alone and compiles to the same ``sub``/``jb``.
        """
        gas = self.gas()
        charged = self.op(f"call {{i64, i1}} @llvm.usub.with.overflow.i64(i64 {gas}, i64 {amount})")
        short = self.op(f"extractvalue {{i64, i1}} {charged}, 1")
        self.guard(short, self.halt_label(HaltKind.OUT_OF_GAS), "gas_ok")
        left = self.op(f"extractvalue {{i64, i1}} {charged}, 0")
        self.emit(f"store i64 {left}, ptr %gas.slot, align 8")

    def mem_addr(self, offset: str) -> str:
        base = self.op("load ptr, ptr %mem_ptr.slot, align 8")
        return self.op(f"getelementptr i8, ptr {base}, i64 {offset}")

    def expand_unless(self, fits: str, offset: str, size: str) -> None:
        """Unless ``fits``, grow memory (natively within capacity, see ``native._mem_grow``)."""
        slow = self.new_label("expand")
        cont = self.new_label("expanded")
        self.emit(f"br i1 {fits}, label %{cont}, label %{slow}, !prof !1")
        self.start(slow)
        self.need("mem_grow")
        self.cross(f"call i32 @evmkiln.mem_grow(ptr %ctx, i64 {offset}, i64 {size})")
        self.emit(f"br label %{cont}")
        self.start(cont)

    def mem_access(self, offset: str, size: int) -> str:
        small = self.op(f"icmp ult i256 {offset}, {SMALL}")
        off64 = self.op(f"trunc i256 {offset} to i64")
        end = self.op(f"add i64 {off64}, {size}")
        inside = self.op(f"icmp ule i64 {end}, {self.op('load i64, ptr %mem_len.slot, align 8')}")
        fits = self.op(f"and i1 {small}, {inside}")
        self.expand_unless(fits, self.op(f"select i1 {small}, i64 {off64}, i64 {CLAMP}"), str(size))
        return off64

    def mem_region(self, offset: str, size: str) -> tuple[str, str]:
        """Expand memory over ``[offset, offset+size)`` (raw words); ``(0, 0)`` when empty."""
        nonzero = self.op(f"icmp ne i256 {size}, 0")
        off64 = self.op(f"trunc i256 {offset} to i64")
        size64 = self.op(f"trunc i256 {size} to i64")
        off_small = self.op(f"icmp ult i256 {offset}, {SMALL}")
        size_small = self.op(f"icmp ult i256 {size}, {SMALL}")
        both_small = self.op(f"and i1 {off_small}, {size_small}")
        mem_len = self.op("load i64, ptr %mem_len.slot, align 8")
        inside = self.op(f"icmp ule i64 {self.op(f'add i64 {off64}, {size64}')}, {mem_len}")
        fits = self.op(f"and i1 {both_small}, {inside}")
        skip = self.op(f"or i1 {fits}, {self.op(f'xor i1 {nonzero}, true')}")
        clamped_off = self.op(f"select i1 {off_small}, i64 {off64}, i64 {CLAMP}")
        clamped_size = self.op(f"select i1 {size_small}, i64 {size64}, i64 {CLAMP}")
        self.expand_unless(skip, clamped_off, clamped_size)
        return (
            self.op(f"select i1 {nonzero}, i64 {off64}, i64 0"),
            self.op(f"select i1 {nonzero}, i64 {size64}, i64 0"),
        )

    def stack_check(self, sp: str, minimum: int, growth: int) -> None:
        # The stack pointer starts at 0 and only ever passes these checks, so it is
        # never negative: a minimum of 0 needs no test.  (Were it ever wrong,
        # ``stack_addr`` still keeps every access inside the buffer.)
        if minimum > 0:
            under = self.op(f"icmp slt i64 {sp}, {minimum}")
            self.guard(under, self.halt_label(HaltKind.STACK_UNDERFLOW), "stack_min_ok")
        over = self.op(f"icmp sgt i64 {sp}, {STACK_LIMIT - growth}")
        self.guard(over, self.halt_label(HaltKind.STACK_OVERFLOW), "stack_max_ok")

    def stack_addr(self, sp: str, slot: int) -> str:
        # Masking keeps the address inside the buffer whatever the index; after
        # ``stack.check`` it never changes the index (and it mirrors the
        # reference's Python list wrap-around for negative indices).
        index = self.op(f"and i64 {self.op(f'add i64 {sp}, {slot}')}, {STACK_LIMIT - 1}")
        offset = self.op(f"mul i64 {index}, {WORD_BYTES}")
        return self.op(f"getelementptr i8, ptr %stack_base, i64 {offset}")

    def entry_pointer(self, slot: int) -> str:
        addr = self.op(f"getelementptr ptr, ptr %entry_table, i64 {slot}")
        return self.op(f"load ptr, ptr {addr}, align 8")

    def call_builtin(self, name: str, args: list[str]) -> str | None:
        sig = BUILTINS[name]
        if len(args) != len(sig.params):
            raise ValueError(f"builtin {name} takes {len(sig.params)} words, got {len(args)}")
        if name in self.native_builtins:
            return self.native(name, args)
        if name in LOG_BUILTINS:
            self.log(args[0], args[1], args[2:])
            return None
        if name == "sload":
            return self.sload(args[0])
        if name == "sstore":
            self.sstore(args[0], args[1])
            return None
        if name == "tload":
            return self.tload(args[0])
        if name == "tstore":
            self.tstore(args[0], args[1])
            return None
        return self.cross_builtin(name, args)

    def cross_builtin(self, name: str, args: list[str]) -> str | None:
        """Call the builtin's Python entry with its words; its result word, if any."""
        sig = BUILTINS[name]
        for i, arg in enumerate(args):
            slot = self.op(f"getelementptr i256, ptr %words, i64 {i}") if i else "%words"
            self.emit(f"store i256 {arg}, ptr {slot}, align 8")
        fnptr = self.entry_pointer(ENTRY_INDEX[name])
        self.cross(f"call i32 {fnptr}(ptr %ctx, ptr %words)")
        if sig.results:
            return self.op("load i256, ptr %words, align 8")
        return None

    def known_slot(self, slot: str, kind: int = ORIGINAL_KNOWN) -> tuple[str, str]:
        """Look ``slot`` up in the frame's table: the entry's address and whether it is current.

        The entry holds ``slot`` when its tag is the context's generation
        doubled, plus one for ``kind`` :data:`TRANSIENT` (a transient slot,
        whose index is salted), and its key matches (see
        :mod:`evmkiln.backend_llvm.storage_cache`).
        """
        limbs = [
            self.op(f"trunc i256 {self.op(f'lshr i256 {slot}, {64 * i}') if i else slot} to i64")
            for i in range(4)
        ]
        low = self.op(f"xor i64 {limbs[0]}, {limbs[1]}")
        folded = self.op(f"xor i64 {low}, {self.op(f'xor i64 {limbs[2]}, {limbs[3]}')}")
        if kind == TRANSIENT:
            folded = self.op(f"xor i64 {folded}, {wordops.word(TRANSIENT_SALT, 64)}")
        mixed = self.op(f"mul i64 {folded}, {wordops.word(HASH_MULTIPLIER, 64)}")
        index = self.op(
            f"and i64 {self.op(f'lshr i64 {mixed}, {HASH_SHIFT}')}, {self.load_field('sl_mask')}"
        )
        table = self.load_field("sl_ptr")
        entry = self.op(
            f"getelementptr i8, ptr {table}, i64 {self.op(f'mul i64 {index}, {ENTRY_BYTES}')}"
        )
        tag = self.load_at(entry, GENERATION_OFFSET, "i64")
        expected = self.op(f"shl i64 {self.load_field('sl_gen')}, 1")
        if kind == TRANSIENT:
            expected = self.op(f"or i64 {expected}, 1")
        current = self.op(f"icmp eq i64 {tag}, {expected}")
        same = self.op(f"icmp eq i256 {self.load_at(entry, KEY_OFFSET, 'i256')}, {slot}")
        return entry, self.op(f"and i1 {current}, {same}")

    def load_at(self, base: str, offset: int, ty: str) -> str:
        address = self.op(f"getelementptr i8, ptr {base}, i64 {offset}") if offset else base
        return self.op(f"load {ty}, ptr {address}, align 8")

    def store_at(self, base: str, offset: int, ty: str, value: str) -> None:
        address = self.op(f"getelementptr i8, ptr {base}, i64 {offset}")
        self.emit(f"store {ty} {value}, ptr {address}, align 8")

    def sload(self, slot: str) -> str:
        """SLOAD: the frame's table of known slots first, the host only on a miss.

        A hit is a slot this frame already read or wrote, hence warm, with the
        value it holds.
        """
        entry, hit = self.known_slot(slot)
        on_hit, on_miss, done = (self.new_label(h) for h in ("sl_hit", "sl_miss", "sl_done"))
        self.emit(f"br i1 {hit}, label %{on_hit}, label %{on_miss}")
        self.start(on_hit)
        self.charge(str(WARM_STORAGE_READ))
        known = self.load_at(entry, VALUE_OFFSET, "i256")
        hit_end = self.block
        self.emit(f"br label %{done}")
        self.start(on_miss)
        loaded = self.cross_builtin("sload", [slot])
        miss_end = self.block
        self.emit(f"br label %{done}")
        self.start(done)
        return self.op(f"phi i256 [ {known}, %{hit_end} ], [ {loaded}, %{miss_end} ]")

    def sstore(self, slot: str, value: str) -> None:
        """SSTORE: priced and recorded in the table when the slot's original value is known.

        Otherwise (first write of the slot in this frame, a static frame) the
        builtin runs in Python and enters the slot with its original value.
        The sentry (EIP-2200: halt with 2,300 gas or less) comes first, as there.
        """
        entry, priced = self.known_slot(slot)
        flags = self.load_at(entry, FLAGS_OFFSET, "i64")
        writable = self.op(f"icmp eq i64 {self.load_field('static')}, 0")
        hit = self.op(f"and i1 {priced}, {writable}")
        on_hit, on_miss, done = (self.new_label(h) for h in ("ss_hit", "ss_miss", "ss_done"))
        self.emit(f"br i1 {hit}, label %{on_hit}, label %{on_miss}")
        self.start(on_hit)
        sentry = self.op(f"icmp ule i64 {self.gas()}, {SSTORE_SENTRY}")
        self.guard(sentry, self.halt_label(HaltKind.OUT_OF_GAS), "sentry_ok")
        self.need("sstore_price")
        original = self.load_at(entry, ORIGINAL_OFFSET, "i256")
        old = self.load_at(entry, VALUE_OFFSET, "i256")
        price = self.op(
            f"call {{i64, i64}} @evmkiln.sstore_price(i256 {original}, i256 {old}, i256 {value})"
        )
        self.charge(self.op(f"extractvalue {{i64, i64}} {price}, 0"))
        refund = self.op(f"extractvalue {{i64, i64}} {price}, 1")
        total = self.op(f"add i64 {self.load_field('refund')}, {refund}")
        self.emit(f"store i64 {total}, ptr %f.refund, align 8")
        self.store_at(entry, VALUE_OFFSET, "i256", value)
        self.store_at(entry, FLAGS_OFFSET, "i64", self.op(f"or i64 {flags}, {DIRTY}"))
        self.emit(f"br label %{done}")
        self.start(on_miss)
        self.cross_builtin("sstore", [slot, value])
        self.emit(f"br label %{done}")
        self.start(done)

    def tload(self, slot: str) -> str:
        """TLOAD: a transient slot this frame already read or wrote is in the table.

        Its price (100) is static, charged with the segment; only a miss crosses.
        """
        entry, hit = self.known_slot(slot, TRANSIENT)
        on_hit, on_miss, done = (self.new_label(h) for h in ("tl_hit", "tl_miss", "tl_done"))
        self.emit(f"br i1 {hit}, label %{on_hit}, label %{on_miss}")
        self.start(on_hit)
        known = self.load_at(entry, VALUE_OFFSET, "i256")
        self.emit(f"br label %{done}")
        self.start(on_miss)
        loaded = self.cross_builtin("tload", [slot])
        miss_end = self.block
        self.emit(f"br label %{done}")
        self.start(done)
        return self.op(f"phi i256 [ {known}, %{on_hit} ], [ {loaded}, %{miss_end} ]")

    def tstore(self, slot: str, value: str) -> None:
        """TSTORE: a transient slot in the table takes the value, held back like SSTORE's.

        A static frame, or a slot not in the table, takes the builtin (which
        halts a static frame) and the crossing enters the slot.
        """
        entry, known = self.known_slot(slot, TRANSIENT)
        writable = self.op(f"icmp eq i64 {self.load_field('static')}, 0")
        hit = self.op(f"and i1 {known}, {writable}")
        on_hit, on_miss, done = (self.new_label(h) for h in ("ts_hit", "ts_miss", "ts_done"))
        self.emit(f"br i1 {hit}, label %{on_hit}, label %{on_miss}")
        self.start(on_hit)
        flags = self.load_at(entry, FLAGS_OFFSET, "i64")
        self.store_at(entry, VALUE_OFFSET, "i256", value)
        self.store_at(entry, FLAGS_OFFSET, "i64", self.op(f"or i64 {flags}, {DIRTY}"))
        self.emit(f"br label %{done}")
        self.start(on_miss)
        self.cross_builtin("tstore", [slot, value])
        self.emit(f"br label %{done}")
        self.start(done)

    def log(self, offset: str, size: str, topics: list[str]) -> None:
        """LOG0..LOG4: appended to the frame's log buffer when it fits, else the builtin.

        Whether the entry fits is decided before anything is charged, so that
        the builtin's path, which charges for itself, is taken whole.  The
        native path checks, charges and expands in the builtin's order (see
        :mod:`evmkiln.builtins.impl.logs`, :mod:`evmkiln.backend_llvm.log_buffer`).
        """
        count = len(topics)
        size64 = self.op(f"trunc i256 {size} to i64")
        small = self.op(f"icmp ult i256 {size}, {SMALL}")
        padded = self.op(f"and i64 {self.op(f'add i64 {size64}, 7')}, -8")
        need = self.op(f"add i64 {padded}, {HEADER_BYTES + TOPIC_BYTES * count}")
        room = self.op(f"sub i64 {self.load_field('lg_cap')}, {self.load_field('lg_len')}")
        fits = self.op(f"and i1 {small}, {self.op(f'icmp ule i64 {need}, {room}')}")
        native_path, slow, done = (self.new_label(h) for h in ("log_native", "log_slow", "logged"))
        self.emit(f"br i1 {fits}, label %{native_path}, label %{slow}")
        self.start(slow)
        self.cross_builtin(f"log{count}", [offset, size, *topics])
        self.emit(f"br label %{done}")
        self.start(native_path)
        static = self.op(f"icmp ne i64 {self.load_field('static')}, 0")
        self.guard(static, self.halt_label(HaltKind.WRITE_PROTECTION), "log_writable")
        per_bytes = self.op(f"mul i64 {size64}, {LOG_DATA_BYTE}")
        self.charge(self.op(f"add i64 {per_bytes}, {LOG_TOPIC * count}"))
        off64, data_size = self.mem_region(offset, size)
        used = self.load_field("lg_len")
        entry = self.op(f"getelementptr i8, ptr {self.load_field('lg_ptr')}, i64 {used}")
        header = self.op(f"or i64 {self.op(f'shl i64 {data_size}, {SIZE_SHIFT}')}, {count}")
        self.emit(f"store i64 {header}, ptr {entry}, align 8")
        for i, topic in enumerate(topics):
            self.store_at(entry, HEADER_BYTES + TOPIC_BYTES * i, "i256", topic)
        data = self.op(f"getelementptr i8, ptr {entry}, i64 {HEADER_BYTES + TOPIC_BYTES * count}")
        self.when_nonempty(
            data_size,
            lambda: self.emit(
                f"call void @llvm.memcpy.p0.p0.i64(ptr align 1 {data}, "
                f"ptr align 1 {self.mem_addr(off64)}, i64 {data_size}, i1 false)"
            ),
        )
        self.emit(f"store i64 {self.op(f'add i64 {used}, {need}')}, ptr %f.lg_len, align 8")
        self.emit(f"br label %{done}")
        self.start(done)

    # -- native builtins -----------------------------------------------------
    def native(self, name: str, args: list[str]) -> str | None:
        if name in ("callvalue", "caller", "address"):
            field = "value" if name == "callvalue" else name
            return self.load_field(field)
        if name == "calldatasize":
            return self.op(f"zext i64 {self.load_field('calldata_len')} to i256")
        if name == "returndatasize":
            return self.op(f"zext i64 {self.load_field('returndata_len')} to i256")
        if name == "calldataload":
            self.need("dataload")
            data, length = self.load_field("calldata_ptr"), self.load_field("calldata_len")
            return self.op(f"call i256 @evmkiln.dataload(ptr {data}, i64 {length}, i256 {args[0]})")
        if name in ("calldatacopy", "codecopy"):
            dest, offset, size = args
            dst, size64 = self.charged_region(dest, size, GAS_COPY_WORD)
            source = "calldata" if name == "calldatacopy" else "code"
            src = self.load_field(f"{source}_ptr")
            length = self.load_field(f"{source}_len")
            self.need("copy_padded")
            self.when_nonempty(
                size64,
                lambda: self.emit(
                    f"call void @evmkiln.copy_padded(ptr {dst}, ptr {src}, i64 {length}, "
                    f"i256 {offset}, i64 {size64})"
                ),
            )
            return None
        if name == "returndatacopy":
            self.returndatacopy(*args)
            return None
        if name == "mcopy":
            self.mcopy(*args)
            return None
        if name == "keccak256":
            data, size64 = self.charged_region(args[0], args[1], KECCAK_WORD)
            self.need("keccak256")
            return self.op(f"call i256 @evmkiln.keccak256(ptr {data}, i64 {size64})")
        raise NotImplementedError(f"no native {name}")

    def when_nonempty(self, size64: str, body: Callable[[], None]) -> None:
        """Emit ``body`` in a block entered only when ``size64`` is not zero."""
        nonempty = self.op(f"icmp ne i64 {size64}, 0")
        copy, done = self.new_label("copy"), self.new_label("copied")
        self.emit(f"br i1 {nonempty}, label %{copy}, label %{done}")
        self.start(copy)
        body()
        self.emit(f"br label %{done}")
        self.start(done)

    def returndatacopy(self, dest: str, offset: str, size: str) -> None:
        """EIP-211: reading past the return data halts, before any expansion, even when empty."""
        length = self.op(f"zext i64 {self.load_field('returndata_len')} to i256")
        past = self.op(f"icmp ugt i256 {offset}, {length}")
        room = self.op(f"sub i256 {length}, {offset}")
        too_long = self.op(f"icmp ugt i256 {size}, {room}")
        self.guard(
            self.op(f"or i1 {past}, {too_long}"),
            self.halt_label(HaltKind.RETURNDATA_OUT_OF_BOUNDS),
            "returndata_ok",
        )
        dst, size64 = self.charged_region(dest, size, GAS_COPY_WORD)
        # Past the guard, offset + size <= returndata_len: the source fits 64 bits.
        src = self.op(
            f"getelementptr i8, ptr {self.load_field('returndata_ptr')}, "
            f"i64 {self.op(f'trunc i256 {offset} to i64')}"
        )
        self.when_nonempty(
            size64,
            lambda: self.emit(
                f"call void @llvm.memcpy.p0.p0.i64(ptr align 1 {dst}, ptr align 1 {src}, "
                f"i64 {size64}, i1 false)"
            ),
        )

    def mcopy(self, dest: str, src: str, size: str) -> None:
        """EIP-5656: expand over the further range, 3 gas a word, then an overlapping copy."""
        further = self.op(
            f"select i1 {self.op(f'icmp ugt i256 {dest}, {src}')}, i256 {dest}, i256 {src}"
        )
        _, size64 = self.charged_region(further, size, GAS_COPY_WORD)

        # A non-empty copy passed expansion, so both ranges lie inside memory
        # (below 2**32); an empty one never computes an address.
        def copy() -> None:
            to = self.mem_addr(self.op(f"trunc i256 {dest} to i64"))
            source = self.mem_addr(self.op(f"trunc i256 {src} to i64"))
            self.emit(
                f"call void @llvm.memmove.p0.p0.i64(ptr align 1 {to}, ptr align 1 {source}, "
                f"i64 {size64}, i1 false)"
            )

        self.when_nonempty(size64, copy)

    def charged_region(self, offset: str, size: str, per_word: int) -> tuple[str, str]:
        """Expand over a region, charge ``per_word`` gas a word; its address and size.

        The charge is the builtin's own dynamic gas, so it applies with metering
        off too, as it does when the Python implementation runs.
        """
        off64, size64 = self.mem_region(offset, size)
        words = self.op(f"lshr i64 {self.op(f'add i64 {size64}, 31')}, 5")
        self.charge(self.op(f"mul i64 {words}, {per_word}"))
        return self.mem_addr(off64), size64

    # -- terminators ---------------------------------------------------------
    def target(self, call: BlockCall) -> str:
        """The label to branch to for ``call``, recording its phi inputs from here."""
        pred = self.block
        name = call.block.name
        args = [self.v(a) for a in call.args]
        if (pred, name) in self.edges:
            # A second edge from the same block: route it through its own block.
            edge = self.new_label(f"edge_{name}")
            self.incoming.setdefault(name, []).append((edge, args))
            self.pending_edges.append(f"{edge}:\n  br label %{self.label_of[name]}")
            return edge
        self.edges.add((pred, name))
        self.incoming.setdefault(name, []).append((pred, args))
        return self.label_of[name]

    pending_edges: list[str]

    def term(self, inst: Inst) -> None:
        op = inst.opcode
        args = [self.v(a) for a in inst.args]
        self.pending_edges = []
        if op == "jump":
            self.emit(f"br label %{self.target(inst.targets[0])}")
        elif op == "brif":
            then = self.target(inst.targets[0])
            other = self.target(inst.targets[1])
            self.emit(f"br i1 {args[0]}, label %{then}, label %{other}")
        elif op == "djump":
            self.dispatch_incoming.append((self.block, args[0], args[1]))
            self.emit("br label %dispatch")
        elif op == "stop":
            self.ret_status(str(int(ExitKind.STOP)))
        elif op in ("return", "revert"):
            self.emit(f"store i64 {args[0]}, ptr %f.out_offset, align 8")
            self.emit(f"store i64 {args[1]}, ptr %f.out_size, align 8")
            kind = ExitKind.RETURN if op == "return" else ExitKind.REVERT
            self.ret_status(str(int(kind)))
        elif op == "selfdestruct":
            self.call_builtin("selfdestruct", args)
            self.ret_status(str(int(ExitKind.SELFDESTRUCT)))
        elif op == "halt":
            self.emit(f"br label %{self.halt_label(HaltKind(int(inst.imms[0])))}")
        else:
            raise NotImplementedError(f"LLVM backend cannot translate terminator {op}")
        self.lines.extend(self.pending_edges)


def _quote(name: str) -> str:
    return f'"{name}"'
