"""IR function -> wasm :class:`~.encoding.Module`.

Values: an ``i256`` is four i64 locals (least significant limb first), an
``i64`` one i64 local, an ``i1`` one i32 local.  IR values never outlive their
block (block-local SSA), so locals are allocated per block from two pools
that every block reuses from index 0; block arguments are pushed on the wasm
operand stack and then popped into the target's parameter locals, which makes
the parallel copy safe even when source and destination locals overlap.

Control flow ("relooper-lite"): the IR blocks, in order, become a ladder of
nested wasm ``block``s inside one ``loop``::

    loop L
      block B(n-1) ... block B0
        br_table idx -> B0..B(n-1)
      end B0  code0
      end B1  code1 ...

A branch to a later block is a direct ``br`` out of the enclosing ``block``
(or a plain fall-through to the next one); a branch backwards and every
``djump`` set the ``idx`` local and re-enter the dispatcher.  ``djump`` reads
the jump table in linear memory (u16 per code byte: block index or
``NO_BLOCK``).  Every jump-table block takes just ``(sp: i64)``, which lands
in the first i64 pool local, so a dynamic jump needs no per-target copy.

Exits store the gas counter and the output range in the control area and
return a status (see :mod:`.layout`).  An exceptional halt consumes all of the
frame's gas, so a halt stores 0 as the gas left.

Checks that may halt (gas, stack bounds, jump targets, a builtin's halt) halt
inline, under an ``if``, or -- with ``shared_exits``, for the fast tier -- with
a ``br_if`` to one shared exit per kind, blocks wrapped around the loop::

    block X(m-1) ... block X0
      loop L ... end
      unreachable
    end X0  exit0 ...

Shared exits make the module and Cranelift's block count smaller (about 15 %
less compile time with single-pass register allocation), but cost the
backtracking allocator code quality in tight loops, so the optimising tier
keeps the inline form.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from evmkiln.backend_wasm import keccak, limbs, limits, sstore
from evmkiln.backend_wasm.encoding import (
    I32,
    I64,
    DataSegment,
    Func,
    FuncType,
    Import,
    Instr,
    Module,
)
from evmkiln.backend_wasm.layout import (
    ARGS,
    CALLDATA,
    CALLDATA_WINDOW,
    CTRL_GAS,
    CTRL_LOG_LEN,
    CTRL_MSIZE,
    CTRL_OUT_OFFSET,
    CTRL_OUT_SIZE,
    CTRL_SL_GEN,
    CTRL_STATIC,
    HOST_GROW,
    JUMPS,
    LOG_CAPACITY,
    MAX_PAGES,
    MSG_ADDRESS,
    MSG_CALLDATA_LEN,
    MSG_CALLER,
    MSG_RETURNDATA_LEN,
    MSG_VALUE,
    NO_BLOCK,
    PAGE,
    SL_CAPACITY,
    SL_DIRTY,
    SL_ENTRY,
    SL_FLAGS,
    SL_GENERATION,
    SL_HASH_MULTIPLIER,
    SL_KEY,
    SL_ORIGINAL_KNOWN,
    SL_TRANSIENT,
    SL_TRANSIENT_SALT,
    SL_VALUE,
    SLOTS,
    STACK,
    STACK_LIMIT,
    STATUS_HALT_BASE,
    STATUS_HOST_HALT,
    code_copy,
    log_buffer,
    memory_base,
)
from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.impl.gas import (
    KECCAK_WORD,
    LOG_DATA_BYTE,
    LOG_TOPIC,
    SSTORE_SENTRY,
    WARM_STORAGE_READ,
)
from evmkiln.builtins.log_entries import HEADER_BYTES, SIZE_SHIFT, TOPIC_BYTES
from evmkiln.builtins.memory import GAS_COPY_WORD
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import CompileOptions, ExitKind, traces_preimages
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value
from evmkiln.codegen.ir.types import Type

BUILTIN_IDS: dict[str, int] = {name: i for i, name in enumerate(sorted(BUILTINS))}
"""Builtin name -> the id passed to the host import."""
assert HOST_GROW not in BUILTIN_IDS.values()
WORD_OPS = frozenset(limbs.WORD_ROUTINES) - {"udivrem"}
"""IR word operations implemented by a module routine of the same name."""

INLINE_BITWISE = {"and": "i64.and", "or": "i64.or", "xor": "i64.xor"}
SWAPPED = {"gt": "lt", "sgt": "slt"}

_LIMB = (1 << 64) - 1
_MESSAGE_WORDS = {"callvalue": MSG_VALUE, "caller": MSG_CALLER, "address": MSG_ADDRESS}
"""Builtins whose word the runtime writes into the header for every frame."""
_MESSAGE_LENGTHS = {"calldatasize": MSG_CALLDATA_LEN, "returndatasize": MSG_RETURNDATA_LEN}
"""Builtins whose (u64) value the runtime keeps in the header."""
_LOGS = frozenset(f"log{count}" for count in range(5))

EXITS: tuple[HaltKind | None, ...] = (
    HaltKind.OUT_OF_GAS,
    HaltKind.STACK_UNDERFLOW,
    HaltKind.STACK_OVERFLOW,
    HaltKind.INVALID_JUMP,
    None,  # a builtin halted: the host holds the error
)
"""Shared exits, innermost first (the order of the blocks around the loop)."""
EXIT_INDEX = {exit_: i for i, exit_ in enumerate(EXITS)}

# Main-function local layout (fixed part).
GAS = 0
SCRATCH64 = 1  # scratch i64 locals (the carry of inline add/sub)
N_SCRATCH64 = 2
POOL64 = SCRATCH64 + N_SCRATCH64


@dataclass
class Translation:
    """The module and what the runtime needs to drive it."""

    module: Module
    memory_base: int
    block_count: int
    routines: list[str] = field(default_factory=list)


def _bswap64() -> Func:
    """Byte swap: EVM memory is big-endian, limbs are little-endian i64."""
    body: list[Instr] = [
        ("local.get", 0),
        ("i64.const", 8),
        ("i64.shr_u",),
        ("i64.const", 0x00FF00FF00FF00FF),
        ("i64.and",),
        ("local.get", 0),
        ("i64.const", 0x00FF00FF00FF00FF),
        ("i64.and",),
        ("i64.const", 8),
        ("i64.shl",),
        ("i64.or",),
        ("local.tee", 0),
        ("i64.const", 16),
        ("i64.shr_u",),
        ("i64.const", 0x0000FFFF0000FFFF),
        ("i64.and",),
        ("local.get", 0),
        ("i64.const", 0x0000FFFF0000FFFF),
        ("i64.and",),
        ("i64.const", 16),
        ("i64.shl",),
        ("i64.or",),
        ("i64.const", 32),
        ("i64.rotl",),
    ]
    return Func("bswap64", FuncType((I64,), (I64,)), [], body)


class _Translator:
    def __init__(
        self, function: Function, metered: bool, shared_exits: bool, inline_words: bool
    ) -> None:
        self.fn = function
        self.metered = metered
        self.shared_exits = shared_exits
        self.inline_words = inline_words
        self.native_keccak = True
        """KECCAK256 in wasm (off: through the host's builtin, which reports preimages)."""
        self.k = 0
        self.depth = 0
        self.order = {b.name: i for i, b in enumerate(function.blocks)}
        self.n = len(function.blocks)
        limits.check_blocks(self.n, len(function.code))
        self.base = memory_base(len(function.code))
        self.module = Module()
        self.module.imports.append(Import("evmkiln", "host", FuncType((I32,), (I32,))))
        self.run = Func("run", FuncType((), (I32,)), export=True)
        self.module.funcs.append(self.run)
        self.routines: dict[str, int] = {}
        self.loc: dict[int, int] = {}
        self.max64 = 0
        self.max32 = 0
        self._allocate()
        self.idx = POOL64 + self.max64
        self.tmp32 = self.idx + 1
        self.pool32 = self.idx + 2
        pool32 = self.pool32
        limits.check_locals(pool32 + self.max32, len(function.code))
        for vid, i in self.loc.items():
            if i < 0:
                self.loc[vid] = pool32 + (-1 - i)
        # One shared tuple per local and access: fewer allocations, and the
        # encoder's memo finds them by identity.
        n_locals = pool32 + self.max32
        self._gets: list[Instr] = [("local.get", i) for i in range(n_locals)]
        self._sets: list[Instr] = [("local.set", i) for i in range(n_locals)]
        self.body: list[Instr] = self.run.body

    # -- locals ---------------------------------------------------------------
    def _allocate(self) -> None:
        for block in self.fn.blocks:
            n64 = n32 = 0
            values: list[Value] = list(block.params)
            for inst in block.insts:
                values.extend(inst.results)
            for v in values:
                if v.type is Type.I1:
                    self.loc[v.id] = -1 - n32  # resolved against pool32 in __init__
                    n32 += 1
                else:
                    self.loc[v.id] = POOL64 + n64
                    n64 += 4 if v.type is Type.I256 else 1
            self.max64 = max(self.max64, n64)
            self.max32 = max(self.max32, n32)

    def local(self, v: Value, limb: int = 0) -> int:
        return self.loc[v.id] + limb

    def get(self, v: Value) -> list[Instr]:
        """Push all of ``v`` (4 limbs for a word)."""
        i = self.loc[v.id]
        return self._gets[i : i + 4] if v.type is Type.I256 else [self._gets[i]]

    def set(self, v: Value) -> list[Instr]:
        """Pop all of ``v`` (limbs were pushed least significant first)."""
        i = self.loc[v.id]
        return self._sets[i : i + 4][::-1] if v.type is Type.I256 else [self._sets[i]]

    def routine(self, name: str) -> int:
        """Function index of a helper routine, adding it to the module on first use."""
        if name not in self.routines:
            if name == "bswap64":
                func = _bswap64()
            elif name == "mem_expand":
                func = limbs.expand(self.base)
            elif name == "mem_access":
                func = limbs.access(self.routine("mem_expand"))
            elif name == "mem_region":
                func = limbs.region(self.routine("mem_expand"))
            elif name == "bytelen":
                func = limbs.bytelen()
            elif name == "keccakf":
                func = keccak.keccakf()
                self.module.data.append(keccak.round_constants())
            elif name == "sstore_price":
                func = sstore.sstore_price()
            elif name == "keccak256":
                func = keccak.keccak256(self.base, self.routine("keccakf"), self.routine("bswap64"))
            else:
                func = limbs.WORD_ROUTINES[name](self.routine)
            self.module.funcs.append(func)
            self.routines[name] = len(self.module.imports) + len(self.module.funcs) - 1
        return self.routines[name]

    # -- exits -----------------------------------------------------------------
    def store_gas(self) -> list[Instr]:
        return [("i32.const", 0), ("local.get", GAS), ("i64.store", 3, CTRL_GAS)]

    def leave(self, status: int) -> list[Instr]:
        return [*self.store_gas(), ("i32.const", status), ("return",)]

    def halt(self, kind: HaltKind) -> list[Instr]:
        """Exceptional halt: all gas is consumed."""
        out: list[Instr] = [("i32.const", 0), ("i64.const", 0), ("i64.store", 3, CTRL_GAS)]
        return [*out, ("i32.const", STATUS_HALT_BASE + int(kind)), ("return",)]

    def halt_if(self, kind: HaltKind | None) -> list[Instr]:
        """Halt with ``kind`` (``None``: a builtin's halt) if the i32 on the stack is non-zero."""
        if self.shared_exits:
            return [("br_if", self.depth + self.n - self.k + EXIT_INDEX[kind])]
        return [("if", None), *self._exit(kind), ("end",)]

    def _exit(self, kind: HaltKind | None) -> list[Instr]:
        if kind is None:
            return [("i32.const", STATUS_HOST_HALT), ("return",)]
        return self.halt(kind)

    # -- translation ---------------------------------------------------------------
    def translate(self) -> Translation:
        b = self.body
        b += [("i32.const", 0), ("i64.load", 3, CTRL_GAS), ("local.set", GAS)]
        if self.shared_exits:
            b += [("block", None)] * len(EXITS)
        b += [("loop", None)]
        b += [("block", None)] * self.n
        b += [("local.get", self.idx), ("br_table", (list(range(self.n)), 0)), ("end",)]
        for k, block in enumerate(self.fn.blocks):
            self.k = k
            self.depth = 0
            for inst in block.insts:
                self.inst(inst)
            assert block.term is not None
            self.term(block.term)
            if k < self.n - 1:
                b.append(("end",))
        b += [("end",), ("unreachable",)]
        if self.shared_exits:
            for kind in EXITS:
                b += [("end",), *self._exit(kind)]
        self.run.locals = [I64] * (POOL64 + self.max64) + [I32] * (2 + self.max32)
        self.module.data.append(DataSegment(JUMPS, self._jump_table()))
        if self.fn.code:
            self.module.data.append(DataSegment(code_copy(len(self.fn.code)), bytes(self.fn.code)))
        self.module.memory_pages = self.base // PAGE + 1
        assert self.module.memory_pages <= MAX_PAGES
        return Translation(self.module, self.base, self.n, list(self.routines))

    def _jump_table(self) -> bytes:
        table = [NO_BLOCK] * len(self.fn.code)
        for pc, blk in self.fn.jump_table.items():
            assert len(blk.params) == 1 and blk.params[0].type is Type.I64
            assert self.loc[blk.params[0].id] == POOL64
            table[pc] = self.order[blk.name]
        return struct.pack(f"<{len(table)}H", *table)

    def inst(self, inst: Inst) -> None:
        op = inst.opcode
        a = inst.args
        r = inst.results
        b = self.body
        if op == "stack.store" or op == "stack.load":
            slot = int(inst.imms[0])
            tmp = self.tmp32
            b += [self._gets[self.loc[a[0].id]], ("i32.wrap_i64",), ("i32.const", slot)]
            b += [("i32.add",), ("i32.const", STACK_LIMIT - 1), ("i32.and",)]
            b += [("i32.const", 5), ("i32.shl",), ("local.set", tmp)]
            get_tmp = self._gets[tmp]
            if op == "stack.load":
                x = self.loc[r[0].id]
                for i in range(4):
                    b += [get_tmp, ("i64.load", 3, STACK + 8 * i), self._sets[x + i]]
            else:
                x = self.loc[a[1].id]
                for i in range(4):
                    b += [get_tmp, self._gets[x + i], ("i64.store", 3, STACK + 8 * i)]
        elif op == "const.i256":
            value = int(inst.imms[0])
            x = self.loc[r[0].id]
            for i in range(4):
                b += [("i64.const", (value >> (64 * i)) & _LIMB), self._sets[x + i]]
        elif op == "const.i64":
            b += [("i64.const", int(inst.imms[0])), ("local.set", self.local(r[0]))]
        elif op in INLINE_BITWISE:
            for i in range(4):
                b += [("local.get", self.local(a[0], i)), ("local.get", self.local(a[1], i))]
                b += [(INLINE_BITWISE[op],), ("local.set", self.local(r[0], i))]
        elif op == "not":
            for i in range(4):
                b += [("local.get", self.local(a[0], i)), ("i64.const", -1), ("i64.xor",)]
                b += [("local.set", self.local(r[0], i))]
        elif op in ("eq", "iszero", "istrue"):
            if op == "eq":
                for i in range(4):
                    b += [("local.get", self.local(a[0], i)), ("local.get", self.local(a[1], i))]
                    b += [("i64.xor",)] + ([("i64.or",)] if i else [])
            else:
                for i in range(4):
                    b += [("local.get", self.local(a[0], i))] + ([("i64.or",)] if i else [])
            if op == "istrue":
                b += [("i64.const", 0), ("i64.ne",), ("local.set", self.local(r[0]))]
            else:
                b += [("i64.eqz",), ("i64.extend_i32_u",), *self._set_small(r[0])]
        elif (op == "add" or op == "sub") and self.inline_words:
            self._add_sub(op, a[0], a[1], r[0])
        elif op in WORD_OPS or op in SWAPPED:
            operands = [a[1], a[0]] if op in SWAPPED else a
            for v in operands:
                b += self.get(v)
            b += [("call", self.routine(SWAPPED.get(op, op))), *self.set(r[0])]
        elif op == "zext":
            b += [("local.get", self.local(a[0])), *self._set_small(r[0])]
        elif op == "bytelen":
            b += [*self.get(a[0]), ("call", self.routine("bytelen")), *self.set(r[0])]
        elif op in ("iadd", "imul"):
            b += [*self.get(a[0]), *self.get(a[1]), ("i64.add" if op == "iadd" else "i64.mul",)]
            b += self.set(r[0])
        elif op == "iadd_imm":
            b += [*self.get(a[0]), ("i64.const", int(inst.imms[0])), ("i64.add",), *self.set(r[0])]
        elif op in ("gas.charge", "gas.charge_dyn"):
            if self.metered:
                amount: Instr = (
                    ("i64.const", int(inst.imms[0]))
                    if op == "gas.charge"
                    else ("local.get", self.local(a[0]))
                )
                b += [("local.get", GAS), amount, ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
                b += [("local.get", GAS), amount, ("i64.sub",), ("local.set", GAS)]
        elif op == "gas.left":
            b += [("local.get", GAS), *self.set(r[0])]
        elif op == "mem.access":
            size = int(inst.imms[0])
            assert size > 0
            b += [*self.get(a[0]), ("i64.const", size), ("local.get", GAS)]
            b += [("call", self.routine("mem_access")), ("local.set", GAS), *self.set(r[0])]
            b += self._check_memory_gas()
        elif op == "mem.region":
            b += [*self.get(a[0]), *self.get(a[1]), ("local.get", GAS)]
            b += [("call", self.routine("mem_region")), ("local.set", GAS)]
            b += [*self.set(r[1]), *self.set(r[0])]
            b += self._check_memory_gas()
        elif op == "mload":
            bswap = self.routine("bswap64")
            for i in range(4):
                b += [("local.get", self.local(a[0])), ("i32.wrap_i64",)]
                b += [("i64.load", 0, self.base + 8 * i), ("call", bswap)]
                b += [("local.set", self.local(r[0], 3 - i))]
        elif op == "mstore":
            bswap = self.routine("bswap64")
            for i in range(4):
                b += [("local.get", self.local(a[0])), ("i32.wrap_i64",)]
                b += [("local.get", self.local(a[1], 3 - i)), ("call", bswap)]
                b += [("i64.store", 0, self.base + 8 * i)]
        elif op == "mstore8":
            b += [("local.get", self.local(a[0])), ("i32.wrap_i64",)]
            b += [("local.get", self.local(a[1], 0)), ("i64.store8", 0, self.base)]
        elif op == "msize":
            b += [("i32.const", 0), ("i64.load", 3, CTRL_MSIZE), *self.set(r[0])]
        elif op == "stack.check":
            lo, growth = int(inst.imms[0]), int(inst.imms[1])
            sp = ("local.get", self.local(a[0]))
            b += [sp, ("i64.const", lo), ("i64.lt_s",), *self.halt_if(HaltKind.STACK_UNDERFLOW)]
            b += [sp, ("i64.const", STACK_LIMIT - growth), ("i64.gt_s",)]
            b += self.halt_if(HaltKind.STACK_OVERFLOW)
        elif op == "call":
            self._builtin(str(inst.imms[0]), a, r)
        else:
            raise NotImplementedError(f"wasm backend cannot translate {op}")

    def _add_sub(self, op: str, x: Value, y: Value, dest: Value) -> None:
        """``add``/``sub`` inline, limb by limb with wide arithmetic (no routine call).

        add: (0:x_i) + (0:y_i) is a 65-bit sum, then + (0:carry) gives the limb
        and the next carry in the high half.  sub: (0:x_i) - (0:y_i) leaves the
        borrow as a high half of 0 or -1; adding the previous borrow, sign
        extended (bw:bw), yields the limb and the next borrow.  SCRATCH64 holds
        the carry or borrow.
        """
        xs, ys, rs = self.loc[x.id], self.loc[y.id], self.loc[dest.id]
        gets, sets = self._gets, self._sets
        zero: Instr = ("i64.const", 0)
        carry = gets[SCRATCH64]
        wide: Instr = ("i64.add128",) if op == "add" else ("i64.sub128",)
        b = self.body
        b += [gets[xs], zero, gets[ys], zero, wide, sets[SCRATCH64], sets[rs]]
        for i in (1, 2):
            b += [gets[xs + i], zero, gets[ys + i], zero, wide]
            b += [carry, zero if op == "add" else carry, ("i64.add128",)]
            b += [sets[SCRATCH64], sets[rs + i]]
        narrow: Instr = ("i64.add",) if op == "add" else ("i64.sub",)
        b += [gets[xs + 3], gets[ys + 3], narrow, carry, ("i64.add",), sets[rs + 3]]

    def _set_small(self, dest: Value) -> list[Instr]:
        """Pop an i64 into limb 0 of ``dest`` and zero its other limbs."""
        out: list[Instr] = [("local.set", self.local(dest, 0))]
        for i in (1, 2, 3):
            out += [("i64.const", 0), ("local.set", self.local(dest, i))]
        return out

    def _store_word(self, v: Value, addr: int) -> list[Instr]:
        out: list[Instr] = []
        for i in range(4):
            out += [
                ("i32.const", 0),
                ("local.get", self.local(v, i)),
                ("i64.store", 3, addr + 8 * i),
            ]
        return out

    def _load_word(self, v: Value, addr: int) -> list[Instr]:
        out: list[Instr] = []
        for i in range(4):
            out += [
                ("i32.const", 0),
                ("i64.load", 3, addr + 8 * i),
                ("local.set", self.local(v, i)),
            ]
        return out

    def _check_memory_gas(self) -> list[Instr]:
        """After a memory routine: gas -1 means out of gas."""
        return [
            ("local.get", GAS),
            ("i64.const", 0),
            ("i64.lt_s",),
            *self.halt_if(HaltKind.OUT_OF_GAS),
        ]

    def _known_slot(self, slot: Value, kind: int = SL_ORIGINAL_KNOWN) -> None:
        """Leave ``slot``'s entry offset in ``tmp32`` and push whether the entry holds it.

        The entry holds the slot when its generation is the frame's
        (``CTRL_SL_GEN``), its key matches and its flags have ``kind``
        (:data:`SL_ORIGINAL_KNOWN`: storage, :data:`SL_TRANSIENT`: transient,
        whose index is salted); :func:`.layout.slot_index` computes the same
        index.
        """
        b = self.body
        key = [("local.get", self.local(slot, i)) for i in range(4)]
        entry = ("local.get", self.tmp32)
        b += [key[0], key[1], ("i64.xor",), key[2], ("i64.xor",), key[3], ("i64.xor",)]
        if kind == SL_TRANSIENT:
            b += [("i64.const", SL_TRANSIENT_SALT - (1 << 64)), ("i64.xor",)]
        b += [("i64.const", SL_HASH_MULTIPLIER - (1 << 64)), ("i64.mul",)]
        b += [("i64.const", 32), ("i64.shr_u",), ("i32.wrap_i64",)]
        b += [("i32.const", SL_CAPACITY - 1), ("i32.and",), ("i32.const", SL_ENTRY), ("i32.mul",)]
        b += [("local.set", self.tmp32)]
        b += [entry, ("i64.load", 3, SLOTS + SL_GENERATION)]
        b += [("i32.const", 0), ("i64.load", 3, CTRL_SL_GEN), ("i64.eq",)]
        for i in range(4):
            b += [entry, ("i64.load", 3, SLOTS + SL_KEY + 8 * i), key[i], ("i64.eq",), ("i32.and",)]
        b += [entry, ("i64.load", 3, SLOTS + SL_FLAGS), ("i64.const", kind), ("i64.and",)]
        b += [("i64.const", 0), ("i64.ne",), ("i32.and",)]

    def _sload(self, slot: Value, result: Value) -> None:
        """SLOAD: the frame's table of known slots (``SLOTS``) first, the host on a miss.

        A hit is a slot this frame already read or wrote, hence warm: the
        warm read is charged and the value loaded without crossing.  The host
        enters slots (and advances the generation around child frames).
        """
        b = self.body
        entry = ("local.get", self.tmp32)
        self._known_slot(slot)
        b += [("if", None)]
        self.depth += 1
        gas = ("local.get", GAS)
        price = ("i64.const", WARM_STORAGE_READ)
        b += [gas, price, ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [gas, price, ("i64.sub",), ("local.set", GAS)]
        for i in range(4):
            b += [entry, ("i64.load", 3, SLOTS + SL_VALUE + 8 * i)]
            b += [("local.set", self.local(result, i))]
        b += [("else",)]
        self._cross("sload", [slot], [result])
        b += [("end",)]
        self.depth -= 1

    def _sstore(self, slot: Value, value: Value) -> None:
        """SSTORE: priced in wasm when the slot's entry knows its original value.

        Otherwise (the slot's first write in this frame, a static frame) the
        builtin runs in the host and enters the slot with its original value.
        EIP-2200's sentry (halt with 2,300 gas or less) comes first, as there;
        see :mod:`.sstore` for the price and what happens to the value.
        """
        b = self.body
        entry = ("local.get", self.tmp32)
        self._known_slot(slot)
        b += [("i32.const", 0), ("i64.load", 3, CTRL_STATIC), ("i64.eqz",), ("i32.and",)]
        b += [("if", None)]
        self.depth += 1
        gas = ("local.get", GAS)
        b += [gas, ("i64.const", SSTORE_SENTRY), ("i64.le_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [entry, *self.get(value), ("call", self.routine("sstore_price"))]
        b += [("local.set", SCRATCH64)]
        b += [gas, ("local.get", SCRATCH64), ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [gas, ("local.get", SCRATCH64), ("i64.sub",), ("local.set", GAS)]
        b += [("else",)]
        self._cross("sstore", [slot, value], [])
        b += [("end",)]
        self.depth -= 1

    def _calldataload(self, offset: Value, result: Value) -> None:
        """CALLDATALOAD: read from the ``CALLDATA`` window when the word lies in it,
        else cross (the window holds the call data's first bytes, zero past its end)."""
        b = self.body
        start = ("local.get", self.local(offset, 0))
        b += [*self._fits(offset, CALLDATA_WINDOW - 32), ("if", None)]
        self.depth += 1
        bswap = self.routine("bswap64")
        for i in range(4):
            b += [start, ("i32.wrap_i64",), ("i64.load", 0, CALLDATA + 8 * i)]
            b += [("call", bswap), ("local.set", self.local(result, 3 - i))]
        b += [("else",)]
        self._cross("calldataload", [offset], [result])
        b += [("end",)]
        self.depth -= 1

    def _charged_region(self, offset: list[Instr], size: Value) -> None:
        """Expand memory over ``offset`` (four limbs pushed) and ``size``, then charge 3 gas a
        word, in the builtins' order; leave the region's offset and size in the scratch
        i64 locals (``SCRATCH64``, ``SCRATCH64 + 1``)."""
        b = self.body
        b += [*offset, *self.get(size), ("local.get", GAS), ("call", self.routine("mem_region"))]
        b += [("local.set", GAS), ("local.set", SCRATCH64 + 1), ("local.set", SCRATCH64)]
        b += self._check_memory_gas()
        words = [("local.get", SCRATCH64 + 1), ("i64.const", 31), ("i64.add",)]
        price = [*words, ("i64.const", 5), ("i64.shr_u",), ("i64.const", GAS_COPY_WORD)]
        price += [("i64.mul",)]
        b += [("local.get", GAS), *price, ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [("local.get", GAS), *price, ("i64.sub",), ("local.set", GAS)]

    def _fits(self, v: Value, limit: int | None = None) -> list[Instr]:
        """Push whether ``v`` fits 64 bits and, with ``limit`` (a small constant), is at
        most ``limit``."""
        limb = [("local.get", self.local(v, i)) for i in range(4)]
        high_zero: list[Instr] = [limb[1], limb[2], ("i64.or",), limb[3], ("i64.or",)]
        high_zero += [("i64.eqz",)]
        if limit is None:
            return high_zero
        return [*high_zero, limb[0], ("i64.const", limit), ("i64.le_u",), ("i32.and",)]

    def _copy_within(self, name: str, args: list[Value], source: int, length: int) -> None:
        """CALLDATACOPY/CODECOPY of bytes that lie in linear memory at ``source`` (``length``
        of them, zero-padded if the source is shorter): copied in wasm, else the builtin."""
        b = self.body
        dest, offset, size = args
        start = ("local.get", self.local(offset, 0))
        b += [*self._fits(offset, length), *self._fits(size, length), ("i32.and",)]
        b += [("local.get", self.local(size, 0)), ("i64.const", length), start, ("i64.sub",)]
        b += [("i64.le_u",), ("i32.and",), ("if", None)]
        self.depth += 1
        self._charged_region(self.get(dest), size)
        # A non-empty region passed expansion, so it lies inside memory.
        b += [("local.get", SCRATCH64 + 1), ("i64.eqz",), ("i32.eqz",), ("if", None)]
        b += [("local.get", SCRATCH64), ("i32.wrap_i64",), ("i32.const", self.base), ("i32.add",)]
        b += [start, ("i32.wrap_i64",), ("i32.const", source), ("i32.add",)]
        b += [("local.get", SCRATCH64 + 1), ("i32.wrap_i64",), ("memory.copy",), ("end",)]
        b += [("else",)]
        self._cross(name, args, [])
        b += [("end",)]
        self.depth -= 1

    def _mcopy(self, args: list[Value]) -> None:
        """MCOPY (EIP-5656) with 64-bit operands in wasm: expansion over the further range,
        3 gas a word, an overlapping copy; other operands take the builtin."""
        b = self.body
        dest, src, size = args
        b += [*self._fits(dest), *self._fits(src), ("i32.and",)]
        b += [*self._fits(size), ("i32.and",), ("if", None)]
        self.depth += 1
        to, source = ("local.get", self.local(dest, 0)), ("local.get", self.local(src, 0))
        further = [to, source, to, source, ("i64.gt_u",), ("select",)]
        zero = ("i64.const", 0)
        self._charged_region([*further, zero, zero, zero], size)
        b += [("local.get", SCRATCH64 + 1), ("i64.eqz",), ("i32.eqz",), ("if", None)]
        b += [to, ("i32.wrap_i64",), ("i32.const", self.base), ("i32.add",)]
        b += [source, ("i32.wrap_i64",), ("i32.const", self.base), ("i32.add",)]
        b += [("local.get", SCRATCH64 + 1), ("i32.wrap_i64",), ("memory.copy",), ("end",)]
        b += [("else",)]
        self._cross("mcopy", args, [])
        b += [("end",)]
        self.depth -= 1

    def _tload(self, slot: Value, result: Value) -> None:
        """TLOAD: a transient slot this frame already read or wrote is in ``SLOTS``.

        Its price (100) is static, charged with the segment; only a miss crosses.
        """
        b = self.body
        entry = ("local.get", self.tmp32)
        self._known_slot(slot, SL_TRANSIENT)
        b += [("if", None)]
        self.depth += 1
        for i in range(4):
            b += [entry, ("i64.load", 3, SLOTS + SL_VALUE + 8 * i)]
            b += [("local.set", self.local(result, i))]
        b += [("else",)]
        self._cross("tload", [slot], [result])
        b += [("end",)]
        self.depth -= 1

    def _tstore(self, slot: Value, value: Value) -> None:
        """TSTORE: a transient slot in ``SLOTS`` takes the value, held back like SSTORE's.

        A static frame, or a slot not in the table, takes the builtin (which
        halts a static frame) and the crossing enters the slot.
        """
        b = self.body
        entry = ("local.get", self.tmp32)
        self._known_slot(slot, SL_TRANSIENT)
        b += [("i32.const", 0), ("i64.load", 3, CTRL_STATIC), ("i64.eqz",), ("i32.and",)]
        b += [("if", None)]
        self.depth += 1
        for i in range(4):
            b += [entry, ("local.get", self.local(value, i))]
            b += [("i64.store", 3, SLOTS + SL_VALUE + 8 * i)]
        b += [entry, entry, ("i64.load", 3, SLOTS + SL_FLAGS), ("i64.const", SL_DIRTY)]
        b += [("i64.or",), ("i64.store", 3, SLOTS + SL_FLAGS)]
        b += [("else",)]
        self._cross("tstore", [slot, value], [])
        b += [("end",)]
        self.depth -= 1

    def _log(self, offset: Value, size: Value, topics: list[Value]) -> None:
        """LOG0..LOG4: appended to the log buffer when it fits, else the builtin.

        Whether the entry fits is decided before anything is charged, so that
        the builtin's path, which charges for itself, is taken whole.  The
        buffered path checks, charges and expands in the builtin's order (see
        :mod:`evmkiln.builtins.impl.logs`); the entry is
        :mod:`evmkiln.builtins.log_entries`'s.
        """
        b = self.body
        count = len(topics)
        buffer = log_buffer(self.base)
        length = [("local.get", self.local(size, i)) for i in range(4)]
        need, start = ("local.get", SCRATCH64), ("local.get", SCRATCH64 + 1)
        used = [("i32.const", 0), ("i64.load", 3, CTRL_LOG_LEN)]
        # need = header + topics + data padded to 8 bytes (meaningful when the size is small)
        b += [length[0], ("i64.const", 7), ("i64.add",), ("i64.const", -8), ("i64.and",)]
        b += [("i64.const", HEADER_BYTES + TOPIC_BYTES * count), ("i64.add",)]
        b += [("local.set", SCRATCH64)]
        b += [length[1], length[2], ("i64.or",), length[3], ("i64.or",), ("i64.eqz",)]
        b += [length[0], ("i64.const", LOG_CAPACITY), ("i64.le_u",), ("i32.and",)]
        b += [need, ("i64.const", LOG_CAPACITY), *used, ("i64.sub",), ("i64.le_u",), ("i32.and",)]
        b += [("if", None)]
        self.depth += 1
        b += [("i32.const", 0), ("i64.load", 3, CTRL_STATIC), ("i64.eqz",), ("i32.eqz",)]
        b += [("if", None), *self.halt(HaltKind.WRITE_PROTECTION), ("end",)]
        price = [length[0], ("i64.const", LOG_DATA_BYTE), ("i64.mul",)]
        price += [("i64.const", LOG_TOPIC * count), ("i64.add",)]
        gas = ("local.get", GAS)
        b += [gas, *price, ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [gas, *price, ("i64.sub",), ("local.set", GAS)]
        b += [*self.get(offset), *self.get(size), gas]
        b += [("call", self.routine("mem_region")), ("local.set", GAS), ("drop",)]
        b += [("local.set", SCRATCH64 + 1)]
        b += self._check_memory_gas()
        entry = ("local.get", self.tmp32)
        b += [*used, ("i32.wrap_i64",), ("local.set", self.tmp32)]
        b += [entry, length[0], ("i64.const", SIZE_SHIFT), ("i64.shl",)]
        b += [("i64.const", count), ("i64.or",), ("i64.store", 3, buffer)]
        for i, topic in enumerate(topics):
            for limb in range(4):
                b += [entry, ("local.get", self.local(topic, limb))]
                b += [("i64.store", 3, buffer + HEADER_BYTES + TOPIC_BYTES * i + 8 * limb)]
        b += [entry, ("i32.const", buffer + HEADER_BYTES + TOPIC_BYTES * count), ("i32.add",)]
        b += [start, ("i32.wrap_i64",), ("i32.const", self.base), ("i32.add",)]
        b += [length[0], ("i32.wrap_i64",), ("memory.copy",)]
        b += [("i32.const", 0), *used, need, ("i64.add",), ("i64.store", 3, CTRL_LOG_LEN)]
        b += [("else",)]
        self._cross(f"log{count}", [offset, size, *topics], [])
        b += [("end",)]
        self.depth -= 1

    def _keccak256(self, offset: Value, size: Value, result: Value) -> None:
        """KECCAK256 in the module: expansion, then the per-word gas, then the hash.

        The same order and prices as the builtin; the hash is :mod:`.keccak`.
        """
        b = self.body
        start, length = ("local.get", SCRATCH64), ("local.get", SCRATCH64 + 1)
        b += [*self.get(offset), *self.get(size), ("local.get", GAS)]
        b += [("call", self.routine("mem_region")), ("local.set", GAS)]
        b += [("local.set", SCRATCH64 + 1), ("local.set", SCRATCH64)]
        b += self._check_memory_gas()
        words = [length, ("i64.const", 31), ("i64.add",), ("i64.const", 5), ("i64.shr_u",)]
        price = [*words, ("i64.const", KECCAK_WORD), ("i64.mul",)]
        b += [("local.get", GAS), *price, ("i64.lt_u",), *self.halt_if(HaltKind.OUT_OF_GAS)]
        b += [("local.get", GAS), *price, ("i64.sub",), ("local.set", GAS)]
        b += [start, ("i32.wrap_i64",), length, ("i32.wrap_i64",)]
        b += [("call", self.routine("keccak256")), *self.set(result)]

    def _builtin(self, name: str, args: list[Value], results: list[Value]) -> None:
        if name == "sload":
            self._sload(args[0], results[0])
        elif name == "sstore":
            self._sstore(args[0], args[1])
        elif name in _MESSAGE_WORDS:
            b = self.body
            for i in range(4):
                b += [("i32.const", 0), ("i64.load", 3, _MESSAGE_WORDS[name] + 8 * i)]
                b += [("local.set", self.local(results[0], i))]
        elif name in _MESSAGE_LENGTHS:
            self.body.extend([("i32.const", 0), ("i64.load", 3, _MESSAGE_LENGTHS[name])])
            self.body.extend([("local.set", self.local(results[0], 0))])
            for i in range(1, 4):
                self.body.extend([("i64.const", 0), ("local.set", self.local(results[0], i))])
        elif name == "calldataload":
            self._calldataload(args[0], results[0])
        elif name == "calldatacopy":
            self._copy_within("calldatacopy", args, CALLDATA, CALLDATA_WINDOW)
        elif name == "codecopy":
            self._copy_within("codecopy", args, code_copy(len(self.fn.code)), len(self.fn.code))
        elif name == "mcopy":
            self._mcopy(args)
        elif name == "tload":
            self._tload(args[0], results[0])
        elif name == "tstore":
            self._tstore(args[0], args[1])
        elif name in _LOGS:
            self._log(args[0], args[1], args[2:])
        elif name == "keccak256" and self.native_keccak:
            self._keccak256(args[0], args[1], results[0])
        else:
            self._cross(name, args, results)

    def _cross(self, name: str, args: list[Value], results: list[Value]) -> None:
        """Arguments into ARGS slots, gas into the control area, cross, read back."""
        b = self.body
        for slot, v in enumerate(args):
            b += self._store_word(v, ARGS + 32 * slot)
        b += [*self.store_gas(), ("i32.const", BUILTIN_IDS[name]), ("call", 0)]
        b += self.halt_if(None)
        b += [("i32.const", 0), ("i64.load", 3, CTRL_GAS), ("local.set", GAS)]
        if results:
            b += self._load_word(results[0], ARGS)

    # -- terminators -------------------------------------------------------------
    def goto(self, target: Block) -> list[Instr]:
        t = self.order[target.name]
        if t == self.k + 1:
            return []  # falls through into the next block's code
        if t > self.k:
            return [("br", t - self.k - 1 + self.depth)]
        return [("i32.const", t), ("local.set", self.idx), ("br", self.n - 1 - self.k + self.depth)]

    def edge(self, call: BlockCall) -> list[Instr]:
        out: list[Instr] = []
        for v in call.args:
            out += self.get(v)
        for p in reversed(call.block.params):
            out += self.set(p)
        return out + self.goto(call.block)

    def term(self, inst: Inst) -> None:
        op = inst.opcode
        a = inst.args
        b = self.body
        if op == "jump":
            b += self.edge(inst.targets[0])
        elif op == "brif":
            b += [("local.get", self.local(a[0])), ("if", None)]
            self.depth += 1
            b += [*self.edge(inst.targets[0]), ("else",), *self.edge(inst.targets[1]), ("end",)]
            self.depth -= 1
        elif op == "djump":
            target, sp = a
            b += [
                ("local.get", self.local(target, 1)),
                ("local.get", self.local(target, 2)),
                ("i64.or",),
                ("local.get", self.local(target, 3)),
                ("i64.or",),
                ("i64.const", 0),
                ("i64.ne",),
                ("local.get", self.local(target, 0)),
                ("i64.const", len(self.fn.code)),
                ("i64.ge_u",),
                ("i32.or",),
                *self.halt_if(HaltKind.INVALID_JUMP),
                ("local.get", self.local(target, 0)),
                ("i32.wrap_i64",),
                ("i32.const", 1),
                ("i32.shl",),
                ("i32.load16_u", 1, JUMPS),
                ("local.tee", self.idx),
                ("i32.const", NO_BLOCK),
                ("i32.eq",),
                *self.halt_if(HaltKind.INVALID_JUMP),
            ]
            # sp goes into the targets' parameter local only now: a target that arrived
            # as a block parameter lives in that same local, and the checks above read it.
            b += [*self.get(sp), ("local.set", POOL64), ("br", self.n - 1 - self.k)]
        elif op == "stop":
            b += self.leave(ExitKind.STOP)
        elif op in ("return", "revert"):
            b += [
                ("i32.const", 0),
                ("local.get", self.local(a[0])),
                ("i64.store", 3, CTRL_OUT_OFFSET),
            ]
            b += [
                ("i32.const", 0),
                ("local.get", self.local(a[1])),
                ("i64.store", 3, CTRL_OUT_SIZE),
            ]
            b += self.leave(ExitKind.RETURN if op == "return" else ExitKind.REVERT)
        elif op == "selfdestruct":
            self._builtin("selfdestruct", a, [])
            b += self.leave(ExitKind.SELFDESTRUCT)
        elif op == "halt":
            b += self.halt(HaltKind(int(inst.imms[0])))
        else:
            raise NotImplementedError(f"wasm backend cannot translate terminator {op}")


def translate(
    function: Function,
    *,
    gas_metering: bool = True,
    shared_exits: bool = False,
    inline_words: bool = True,
    trace_preimages: bool = False,
) -> Translation:
    """Translate a verified IR function into a wasm module exporting ``run() -> status``.

    ``shared_exits`` and ``inline_words=False`` are the fast tier's choices
    (smaller code, quicker to compile); the defaults favour execution speed.
    ``trace_preimages`` runs KECCAK256 through the host's builtin, which tells
    the frame's hook (:data:`~evmkiln.codegen.backend.TRACE_PREIMAGES`).
    """
    translator = _Translator(function, gas_metering, shared_exits, inline_words)
    translator.native_keccak = not trace_preimages
    return translator.translate()


def translate_for(
    function: Function, options: CompileOptions, *, fast: bool = False
) -> Translation:
    """``function`` translated for ``options``, for the fast tier (shared exits, word
    helpers called) or, by default, the optimising one (AOT artifacts, tier-ups)."""
    return translate(
        function,
        gas_metering=options.gas_metering,
        shared_exits=fast,
        inline_words=not fast,
        trace_preimages=traces_preimages(options),
    )
