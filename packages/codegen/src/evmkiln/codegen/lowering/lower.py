"""Lowering EVM bytecode to IR, one block version at a time.

Gas: static gas is charged per *segment*.  A segment runs from the start of a
block, or from just after a gas observer, to the next observer (inclusive) or
the block's end; its whole static gas is charged at its start.  Observers are
the instructions that can see the remaining gas (GAS, SSTORE's stipend check,
the CALL and CREATE families' 63/64 rule).  Charging earlier than the
interpreter does is unobservable otherwise: every instruction of a segment runs
unless the frame halts exceptionally, and an exceptional halt consumes all gas
and reverts the frame whatever the point it happened at.  Dynamic gas (memory
expansion, EXP's byte cost, what builtins charge) is charged where it arises.
The same argument lets stack underflow/overflow be checked once at block entry.
"""

from __future__ import annotations

from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.evm.blocks import STACK_LIMIT, Exit, Program
from evmkiln.codegen.evm.bytecode import Instr
from evmkiln.codegen.evm.opcodes import Kind
from evmkiln.codegen.ir.builder import Builder
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Value
from evmkiln.codegen.ir.semantics import BINARY, TERNARY, UNARY, bytelen
from evmkiln.codegen.ir.types import Type
from evmkiln.codegen.lowering.stack_model import StackModel
from evmkiln.codegen.lowering.versions import D, K, VersionPlan, choose_plan, statically_halts

GAS_OPCODE = 0x5A
EXP_BYTE_GAS = 50


def _is_observer(ins: Instr) -> bool:
    info = ins.info
    if info is None:
        return False
    if ins.op == GAS_OPCODE:
        return True
    return info.kind is Kind.BUILTIN and BUILTINS[info.ir_op].observes_gas


def _segment_gas(instrs: list[Instr], i: int) -> int:
    total = 0
    for ins in instrs[i:]:
        if ins.info is None:
            break
        total += ins.info.static_gas
        if _is_observer(ins):
            break
    return total


def _first_stack_failure(instrs: list[Instr], height: int) -> tuple[int, HaltKind]:
    """The index of the first instruction whose stack fails from ``height``, and how."""
    for i, ins in enumerate(instrs):
        info = ins.info
        if info is None:
            break
        if height < info.pops:
            return i, HaltKind.STACK_UNDERFLOW
        height += info.pushes - info.pops
        if height > STACK_LIMIT:
            return i, HaltKind.STACK_OVERFLOW
    raise AssertionError("the block's stack does not fail from this height")


class Lowerer:
    """Lowers one analysed program into one IR function."""

    def __init__(self, prog: Program, name: str, plan: VersionPlan | None = None) -> None:
        self.prog = prog
        self.plan: VersionPlan = plan if plan is not None else choose_plan(prog).plan
        self.f = Function(name, code=prog.code)
        self.b = Builder(self.f)
        self.versions: dict[tuple[int, str, int], Block] = {}
        self.halts: dict[HaltKind, Block] = {}
        self.consts: dict[int, int] = {}
        self.trampolines = 0
        self.spills: dict[tuple[int, int], Block] = {}
        """Shared known-height -> dynamic trampolines, by (successor pc, height)."""
        self.dynamic_exits: dict[int, Block] = {}
        """Shared blocks that spill a known stack of a height and jump dynamically."""
        self.dynamic_branch: Block | None = None
        """The shared ``(sp, target)`` block of a dynamic version's JUMPI."""
        self.switches: dict[tuple[tuple[int, ...], bool, int], Block] = {}
        """Shared compare chains of resolved jumps, by (destinations, halts otherwise, height)."""
        self.height = 0
        """Entry height of the known-height version being lowered."""

    # -- blocks ---------------------------------------------------------------
    def version(self, start: int, mode: str, height: int = 0) -> Block:
        key = (start, mode, height)
        blk = self.versions.get(key)
        if blk is None:
            name = self.plan.name(start, mode, height)
            if mode == K:
                blk = self.f.new_block(name, [Type.I256] * height, pc=start)
            else:
                blk = self.f.new_block(name, [Type.I64], pc=start)
            self.versions[key] = blk
        return blk

    def halt_block(self, kind: HaltKind) -> Block:
        blk = self.halts.get(kind)
        if blk is None:
            blk = Block(f"halt_{kind.name.lower()}")
            self.halts[kind] = blk
            with self.b.building(blk):
                self.b.op("halt", imms=(int(kind),))
        return blk

    def new_trampoline(self, params: list[Type]) -> Block:
        self.trampolines += 1
        return self.f.new_block(f"t{self.trampolines}", params)

    def run(self) -> Function:
        for start, mode, height in self.plan.versions:
            self.version(start, mode, height)
        for start, mode, height in self.plan.versions:
            self.lower_version(start, mode, height)
        if self.plan.uses_jump_table:
            for j in sorted(self.prog.jumpdests):
                self.f.jump_table[j] = self.versions[(j, D, 0)]
        self.f.blocks.extend(self.halts.values())
        return self.f

    # -- one block version ----------------------------------------------------
    def lower_version(self, start: int, mode: str, height: int) -> None:
        blk = self.prog.blocks[start]
        irb = self.versions[(start, mode, height)]
        b = self.b
        b.at(irb)
        b.pc = start
        self.consts = {}
        self.height = height
        if mode == K:
            if statically_halts(blk, height):
                self.lower_until_stack_halt(irb, start, height)
                return
            st = StackModel(b, list(irb.params), None)
        else:
            sp = irb.params[0]
            if blk.min_height or blk.max_growth:
                b.op("stack.check", sp, imms=(blk.min_height, blk.max_growth))
            st = StackModel(b, [], sp)
        if self.lower_segments(blk.instrs, len(blk.instrs), st, mode, blk.start):
            return
        # No terminator: fall into the next block, or off the end of the code.
        if blk.exit is Exit.FALLTHROUGH:
            self.exit_jump(st, mode, blk.end)
        else:
            b.op("stop")

    def lower_until_stack_halt(self, irb: Block, start: int, height: int) -> None:
        """A known-height version whose stack fails: the instructions before the failing
        one, then its halt.

        The interpreter runs those instructions and charges the failing one's
        static gas before it finds the stack short (or full), so running out
        of gas, or another halt, on the way comes first: an OutOfGas, not a
        stack error, is what it reports then.  Only the gas up to and
        including the failing instruction is charged.
        """
        blk = self.prog.blocks[start]
        failing, kind = _first_stack_failure(blk.instrs, height)
        instrs = blk.instrs[: failing + 1]
        st = StackModel(self.b, list(irb.params), None)
        if self.lower_segments(instrs, failing, st, K, blk.start):
            return  # pragma: no cover - terminators end blocks, and the failing one is last
        self.b.pc = instrs[failing].pc
        self.b.op("halt", imms=(int(kind),))

    def lower_segments(
        self, instrs: list[Instr], count: int, st: StackModel, mode: str, start: int
    ) -> bool:
        """Lower the first ``count`` of ``instrs``, each gas segment charged at its start.

        Segments are measured over all of ``instrs`` (a version that halts at
        ``instrs[count]`` still charges that instruction's static gas first).
        True when an instruction ended the block.
        """
        self._charge(_segment_gas(instrs, 0))
        for i, ins in enumerate(instrs[:count]):
            self.b.pc = ins.pc
            if self.lower_instr(ins, st, mode, start):
                return True
            if _is_observer(ins) and i + 1 < len(instrs):
                self._charge(_segment_gas(instrs, i + 1))
        return False

    def _charge(self, amount: int) -> None:
        if amount:
            self.b.op("gas.charge", imms=(amount,))

    def const(self, value: int) -> Value:
        v = self.b.const(value)
        self.consts[v.id] = value & ((1 << 256) - 1)
        return v

    # -- edges ----------------------------------------------------------------
    def edge(self, st: StackModel, mode: str, succ: int, sp_out: Value | None) -> BlockCall:
        """The block call for a direct edge.  In dynamic mode ``sp_out`` is the flushed sp."""
        if mode == D:
            assert sp_out is not None
            return BlockCall(self.version(succ, D), [sp_out])
        return self.known_edge(st.items, succ)

    def known_edge(self, items: list[Value], succ: int) -> BlockCall:
        """The block call from a known stack ``items`` into ``succ``."""
        out = len(items)
        if self.plan.mode_of_edge(succ, out) == K:
            return BlockCall(self.version(succ, K, out), list(items))
        return BlockCall(self.spill_to(succ, out), list(items))

    def spill_to(self, succ: int, height: int) -> Block:
        """The trampoline from known height ``height`` into ``succ``'s dynamic version.

        It takes the stack as parameters and spills it.  One per (successor,
        height), shared by every edge that needs it: a trampoline per edge
        would repeat the same stores once per jump site, up to
        ``KNOWN_HEIGHT_LIMIT`` of them per few bytes of code.
        """
        key = (succ, height)
        t = self.spills.get(key)
        if t is None:
            t = self.spills[key] = self.new_trampoline([Type.I256] * height)
            with self.b.building(t):
                sp = StackModel(self.b, list(t.params), None).spill_all()
                self.b.jump(self.version(succ, D), [sp])
        return t

    def dynamic_exit(self, height: int) -> Block:
        """The shared block that spills a known stack of ``height`` and jumps dynamically.

        Its parameters are the stack (bottom first) and the target.  Sharing
        it keeps a contract's spill code proportional to the heights it uses,
        not to its number of dynamic jump sites; LLVM's NewGVN also went
        quadratic on many identical spills meeting at the dispatch.
        """
        t = self.dynamic_exits.get(height)
        if t is None:
            t = self.dynamic_exits[height] = self.new_trampoline([Type.I256] * (height + 1))
            with self.b.building(t):
                sp = StackModel(self.b, list(t.params[:height]), None).spill_all()
                self.b.op("djump", t.params[height], sp)
        return t

    def exit_jump(self, st: StackModel, mode: str, succ: int) -> None:
        sp_out = st.flush() if mode == D else None
        call = self.edge(st, mode, succ, sp_out)
        self.b.jump(call.block, call.args)

    def exit_dynamic(self, st: StackModel, mode: str, target: Value) -> None:
        if mode == D:
            self.b.op("djump", target, st.flush())
        elif st.items:
            self.b.jump(self.dynamic_exit(len(st.items)), [*st.items, target])
        else:  # nothing to spill
            self.b.op("djump", target, st.spill_all())

    # -- instructions -----------------------------------------------------------
    def lower_instr(self, ins: Instr, st: StackModel, mode: str, start: int) -> bool:
        """Lower one instruction; return True if it ended the block."""
        b = self.b
        info = ins.info
        if info is None:
            b.op("halt", imms=(int(HaltKind.INVALID_OPCODE),))
            return True
        k = info.kind
        if k is Kind.PUSH:
            st.push(self.const(ins.immediate))
        elif k is Kind.DUP:
            st.dup(info.pops)
        elif k is Kind.SWAP:
            st.swap(info.pops - 1)
        elif k is Kind.POP:
            st.pop()
        elif k is Kind.JUMPDEST:
            pass
        elif k is Kind.PURE:
            self.lower_pure(info.ir_op, st.pop_n(info.pops), st)
        elif k is Kind.BUILTIN:
            args = st.pop_n(info.pops)
            for r in b.call(info.ir_op, *args):
                st.push(r)
        elif k is Kind.SPECIAL:
            self.lower_special(ins, st)
        elif k is Kind.STOP:
            b.op("stop")
            return True
        elif k in (Kind.RETURN, Kind.REVERT):
            off, size = st.pop_n(2)
            o, n = b.op("mem.region", off, size).results
            b.op("return" if k is Kind.RETURN else "revert", o, n)
            return True
        elif k is Kind.INVALID:
            b.op("halt", imms=(int(HaltKind.INVALID_INSTRUCTION),))
            return True
        elif k is Kind.SELFDESTRUCT:
            b.op("selfdestruct", st.pop())
            return True
        elif k is Kind.JUMP:
            self.lower_jump(st, mode, start)
            return True
        elif k is Kind.JUMPI:
            self.lower_jumpi(st, mode, start)
            return True
        else:  # pragma: no cover - the table has no other kinds
            raise AssertionError(f"unhandled opcode kind {k}")
        return False

    def lower_pure(self, op: str, args: list[Value], st: StackModel) -> None:
        vals = [self.consts.get(a.id) for a in args]
        if all(v is not None for v in vals):
            c = [v for v in vals if v is not None]
            if len(c) == 2:
                res = BINARY[op](c[0], c[1])
            elif len(c) == 3:
                res = TERNARY[op](c[0], c[1], c[2])
            else:
                res = UNARY[op](c[0])
            st.push(self.const(res))
            return
        st.push(self.b.value(op, *args))

    def lower_special(self, ins: Instr, st: StackModel) -> None:
        b = self.b
        op = ins.op
        if op == 0x0A:  # EXP: the word op plus 50 gas per exponent byte
            base, exponent = st.pop_n(2)
            known = self.consts.get(exponent.id)
            if known is not None:
                self._charge(EXP_BYTE_GAS * bytelen(known))
            else:
                n = b.value("bytelen", exponent)
                g = b.value("imul", n, b.const(EXP_BYTE_GAS, Type.I64))
                b.op("gas.charge_dyn", g)
            self.lower_pure("exp", [base, exponent], st)
        elif op == 0x51:  # MLOAD
            o = b.value("mem.access", st.pop(), imms=(32,))
            st.push(b.value("mload", o))
        elif op == 0x52:  # MSTORE
            off, val = st.pop_n(2)
            o = b.value("mem.access", off, imms=(32,))
            b.op("mstore", o, val)
        elif op == 0x53:  # MSTORE8
            off, val = st.pop_n(2)
            o = b.value("mem.access", off, imms=(1,))
            b.op("mstore8", o, val)
        elif op == 0x58:  # PC
            st.push(self.const(ins.pc))
        elif op == 0x38:  # CODESIZE
            st.push(self.const(len(self.prog.code)))
        elif op == 0x59:  # MSIZE
            st.push(b.value("zext", b.value("msize")))
        elif op == GAS_OPCODE:
            st.push(b.value("zext", b.value("gas.left")))
        else:  # pragma: no cover
            raise AssertionError(f"no special lowering for {ins.name}")

    def resolved(self, mode: str, start: int) -> frozenset[int] | None:
        """The destinations jump resolution found for this version's non-static jump."""
        return self.plan.targets(start, self.height) if mode == K else None

    def lower_jump(self, st: StackModel, mode: str, start: int) -> None:
        blk = self.prog.blocks[start]
        target = st.pop()
        if blk.static_target is None:
            targets = self.resolved(mode, start)
            if targets is None:
                self.exit_dynamic(st, mode, target)
            else:
                self.branch_to(list(st.items), target, *self._split_targets(targets))
        elif blk.invalid_static_target:
            self.b.op("halt", imms=(int(HaltKind.INVALID_JUMP),))
        else:
            self.exit_jump(st, mode, blk.static_target)

    def lower_jumpi(self, st: StackModel, mode: str, start: int) -> None:
        b = self.b
        blk = self.prog.blocks[start]
        target, cond_word = st.pop_n(2)
        sp_out = st.flush() if mode == D else None
        fall = self.edge(st, mode, blk.end, sp_out)
        if blk.static_target is None:
            targets = self.resolved(mode, start)
            if targets is None:
                taken = self.dynamic_trampoline(st, mode, target, sp_out)
            else:
                taken = self.switch_call(list(st.items), target, *self._split_targets(targets))
        elif blk.invalid_static_target:
            taken = BlockCall(self.halt_block(HaltKind.INVALID_JUMP), [])
        else:
            taken = self.edge(st, mode, blk.static_target, sp_out)
        cond = b.value("istrue", cond_word)
        b.brif(cond, taken.block, taken.args, fall.block, fall.args)

    # -- resolved jumps -----------------------------------------------------------
    def _split_targets(self, targets: frozenset[int]) -> tuple[tuple[int, ...], bool]:
        """The valid destinations, in order, and whether some value is not one."""
        valid = tuple(sorted(t for t in targets if t in self.prog.jumpdests))
        return valid, len(valid) < len(targets)

    def switch_call(
        self, items: list[Value], target: Value, valid: tuple[int, ...], invalid: bool
    ) -> BlockCall:
        """A block call that continues at ``target``, one of ``valid`` (or halts if ``invalid``).

        Without a compare when there is only one place to go; otherwise into
        the shared compare chain.
        """
        if not valid:
            return BlockCall(self.halt_block(HaltKind.INVALID_JUMP), [])
        if len(valid) == 1 and not invalid:
            return self.known_edge(items, valid[0])
        return BlockCall(self.switch_block(valid, invalid, len(items)), [*items, target])

    def branch_to(
        self, items: list[Value], target: Value, valid: tuple[int, ...], invalid: bool
    ) -> None:
        """End the current block by going to ``target``, known to be one of the values.

        The analysis proved the target is one of ``valid`` or, if ``invalid``,
        some value that is not a JUMPDEST; so the last destination needs no
        compare, and a target matching none of ``valid`` halts as a bad jump.
        """
        if len(valid) <= 1 and not (valid and invalid):
            call = self.switch_call(items, target, valid, invalid)
            self.b.jump(call.block, call.args)
            return
        first = self.known_edge(items, valid[0])
        other = self.switch_call(items, target, valid[1:], invalid)
        cond = self.b.value("istrue", self.b.value("eq", target, self.b.const(valid[0])))
        self.b.brif(cond, first.block, first.args, other.block, other.args)

    def switch_block(self, valid: tuple[int, ...], invalid: bool, height: int) -> Block:
        """The compare chain over ``valid`` for a known stack of ``height`` (shared).

        Its parameters are the stack and the target.  Jumps that share their
        destinations and height (a function's several return paths) share
        the chain, so its size follows the distinct destination sets.
        """
        key = (valid, invalid, height)
        t = self.switches.get(key)
        if t is None:
            t = self.switches[key] = self.new_trampoline([Type.I256] * (height + 1))
            with self.b.building(t):
                self.branch_to(list(t.params[:height]), t.params[height], valid, invalid)
        return t

    def dynamic_trampoline(
        self, st: StackModel, mode: str, target: Value, sp_out: Value | None
    ) -> BlockCall:
        """The block that performs the dynamic jump of a JUMPI's taken edge (shared)."""
        if mode == D:
            assert sp_out is not None
            t = self.dynamic_branch
            if t is None:
                t = self.dynamic_branch = self.new_trampoline([Type.I64, Type.I256])
                with self.b.building(t):
                    self.b.op("djump", t.params[1], t.params[0])
            return BlockCall(t, [sp_out, target])
        return BlockCall(self.dynamic_exit(len(st.items)), [*st.items, target])


def lower_program(prog: Program, name: str, plan: VersionPlan | None = None) -> Function:
    """Lower ``prog`` following ``plan`` (by default the one :func:`choose_plan` picks)."""
    return Lowerer(prog, name, plan).run()
