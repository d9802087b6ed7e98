"""Turning IR instructions into Python closures.

The interpreter is closure-threaded: each instruction becomes a small
function over a register list ``r`` (indexed by value id), the frame ``fr``
and the stack buffer ``buf``, with its operand indices bound at compile time.
Terminators return the next :class:`CBlock`; exits raise :class:`FrameExit`.
This keeps decoding out of the execution loop without generating source code.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.memory import expand
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.ir.function import BlockCall, Inst
from evmkiln.codegen.ir.semantics import BINARY, MASK, TERNARY, UNARY, bytelen

Regs = list[Any]
Buf = list[int]
Op = Callable[[Regs, Frame, Buf], None]
MASK64 = (1 << 64) - 1
STACK_LIMIT = 1024


class FrameExit(Exception):
    """Raised by exit terminators to leave the interpreter loop."""

    def __init__(self, kind: ExitKind) -> None:
        self.kind = kind


class CBlock:
    """A compiled block: its instruction closures and its terminator."""

    __slots__ = ("name", "ops", "term")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ops: tuple[Op, ...] = ()
        self.term: Callable[[Regs, Frame, Buf], CBlock] = _unset


def _unset(r: Regs, fr: Frame, buf: Buf) -> CBlock:
    raise AssertionError("block was not compiled")


def _halt(kind: HaltKind) -> ExceptionalHalt:
    return ExceptionalHalt(kind)


# -- straight-line instructions ------------------------------------------------
def _binary(name: str, a: int, b: int, d: int) -> Op:
    # The hottest operations get their own closure; the rest share the table.
    if name == "add":

        def add(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = (r[a] + r[b]) & MASK

        return add
    if name == "sub":

        def sub(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = (r[a] - r[b]) & MASK

        return sub
    if name == "and":

        def and_(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = r[a] & r[b]

        return and_
    if name == "lt":

        def lt(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = 1 if r[a] < r[b] else 0

        return lt
    if name == "eq":

        def eq(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = 1 if r[a] == r[b] else 0

        return eq
    fn = BINARY[name]

    def binop(r: Regs, fr: Frame, buf: Buf) -> None:
        r[d] = fn(r[a], r[b])

    return binop


def _call(inst: Inst, ids: list[int], res: list[int]) -> Op:
    impl = IMPLEMENTATIONS[str(inst.imms[0])]
    n = len(ids)
    if len(res) == 1:
        d = res[0]
        if n == 0:

            def call0(r: Regs, fr: Frame, buf: Buf) -> None:
                r[d] = impl(fr)

            return call0
        if n == 1:
            a = ids[0]

            def call1(r: Regs, fr: Frame, buf: Buf) -> None:
                r[d] = impl(fr, r[a])

            return call1

        def calln(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = impl(fr, *[r[i] for i in ids])

        return calln

    def callv(r: Regs, fr: Frame, buf: Buf) -> None:
        impl(fr, *[r[i] for i in ids])

    return callv


def compile_inst(inst: Inst, metered: bool) -> Op:
    """Build the closure for one non-terminator instruction."""
    op = inst.opcode
    ids = [v.id for v in inst.args]
    res = [v.id for v in inst.results]
    d = res[0] if res else -1
    if op.startswith("const."):
        value = int(inst.imms[0])

        def const(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = value

        return const
    if op in BINARY:
        return _binary(op, ids[0], ids[1], d)
    if op in TERNARY:
        fn3 = TERNARY[op]
        a, b, c = ids

        def ternary(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = fn3(r[a], r[b], r[c])

        return ternary
    if op in UNARY:
        fn1 = UNARY[op]
        a = ids[0]

        def unary(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = fn1(r[a])

        return unary
    if op == "call":
        return _call(inst, ids, res)
    if op == "gas.charge":
        amount = int(inst.imms[0])
        if not metered:
            return _nop

        def charge(r: Regs, fr: Frame, buf: Buf) -> None:
            g = fr.gas - amount
            if g < 0:
                raise _halt(HaltKind.OUT_OF_GAS)
            fr.gas = g

        return charge
    if op == "gas.charge_dyn":
        a = ids[0]
        if not metered:
            return _nop

        def charge_dyn(r: Regs, fr: Frame, buf: Buf) -> None:
            g = fr.gas - r[a]
            if g < 0:
                raise _halt(HaltKind.OUT_OF_GAS)
            fr.gas = g

        return charge_dyn
    if op == "gas.left":

        def gas_left(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = fr.gas

        return gas_left
    if op == "mem.access":
        a = ids[0]
        size = int(inst.imms[0])

        def mem_access(r: Regs, fr: Frame, buf: Buf) -> None:
            o = r[a]
            if o + size > len(fr.memory):
                expand(fr, o, size)
            r[d] = o

        return mem_access
    if op == "mem.region":
        a, b = ids
        d0, d1 = res

        def mem_region(r: Regs, fr: Frame, buf: Buf) -> None:
            o, n = r[a], r[b]
            if n:
                expand(fr, o, n)
                r[d0] = o
                r[d1] = n
            else:
                r[d0] = 0
                r[d1] = 0

        return mem_region
    if op == "mload":
        a = ids[0]

        def mload(r: Regs, fr: Frame, buf: Buf) -> None:
            o = r[a]
            r[d] = int.from_bytes(fr.memory[o : o + 32], "big")

        return mload
    if op == "mstore":
        a, v = ids

        def mstore(r: Regs, fr: Frame, buf: Buf) -> None:
            o = r[a]
            fr.memory[o : o + 32] = r[v].to_bytes(32, "big")

        return mstore
    if op == "mstore8":
        a, v = ids

        def mstore8(r: Regs, fr: Frame, buf: Buf) -> None:
            fr.memory[r[a]] = r[v] & 0xFF

        return mstore8
    if op == "msize":

        def msize(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = len(fr.memory)

        return msize
    if op == "stack.check":
        a = ids[0]
        lo = int(inst.imms[0])
        hi = STACK_LIMIT - int(inst.imms[1])

        def stack_check(r: Regs, fr: Frame, buf: Buf) -> None:
            sp = r[a]
            if sp < lo:
                raise _halt(HaltKind.STACK_UNDERFLOW)
            if sp > hi:
                raise _halt(HaltKind.STACK_OVERFLOW)

        return stack_check
    if op == "stack.load":
        a = ids[0]
        slot = int(inst.imms[0])

        def stack_load(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = buf[r[a] + slot]

        return stack_load
    if op == "stack.store":
        a, v = ids
        slot = int(inst.imms[0])

        def stack_store(r: Regs, fr: Frame, buf: Buf) -> None:
            buf[r[a] + slot] = r[v]

        return stack_store
    if op == "istrue":
        a = ids[0]

        def istrue(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = r[a] != 0

        return istrue
    if op == "zext":
        a = ids[0]

        def zext(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = r[a]

        return zext
    if op == "bytelen":
        a = ids[0]

        def bytelen_(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = bytelen(r[a])

        return bytelen_
    if op in ("iadd", "imul"):
        a, b = ids
        mul = op == "imul"

        def iarith(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = ((r[a] * r[b]) if mul else (r[a] + r[b])) & MASK64

        return iarith
    if op == "iadd_imm":
        a = ids[0]
        delta = int(inst.imms[0])

        def iadd_imm(r: Regs, fr: Frame, buf: Buf) -> None:
            r[d] = (r[a] + delta) & MASK64

        return iadd_imm
    raise AssertionError(f"reference backend has no semantics for {op}")


def _nop(r: Regs, fr: Frame, buf: Buf) -> None:
    return None


# -- terminators ------------------------------------------------------------------
Term = Callable[[Regs, Frame, Buf], CBlock]


def _edge(call: BlockCall, blocks: dict[str, CBlock]) -> tuple[CBlock, Callable[[Regs], None]]:
    """The target block and a parallel copy of the arguments into its parameters."""
    target = blocks[call.block.name]
    srcs = [a.id for a in call.args]
    dsts = [p.id for p in call.block.params]
    if not srcs:
        return target, _no_copy
    if len(srcs) == 1:
        s0, d0 = srcs[0], dsts[0]

        def copy1(r: Regs) -> None:
            r[d0] = r[s0]

        return target, copy1
    get = itemgetter(*srcs)
    lo = dsts[0]
    hi = dsts[-1] + 1
    if dsts == list(range(lo, hi)):

        def copy_range(r: Regs) -> None:
            r[lo:hi] = get(r)

        return target, copy_range

    def copy_any(r: Regs) -> None:
        for dst, val in zip(dsts, get(r), strict=True):
            r[dst] = val

    return target, copy_any


def _no_copy(r: Regs) -> None:
    return None


def compile_term(
    inst: Inst,
    blocks: dict[str, CBlock],
    jump_table: dict[int, CBlock],
    jump_params: dict[CBlock, int],
) -> Term:
    """Build the closure for a terminator; ``jump_params`` maps table blocks to their sp."""
    op = inst.opcode
    ids = [v.id for v in inst.args]
    if op == "jump":
        target, copy = _edge(inst.targets[0], blocks)

        def jump(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            copy(r)
            return target

        return jump
    if op == "brif":
        c = ids[0]
        t_blk, t_copy = _edge(inst.targets[0], blocks)
        f_blk, f_copy = _edge(inst.targets[1], blocks)

        def brif(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            if r[c]:
                t_copy(r)
                return t_blk
            f_copy(r)
            return f_blk

        return brif
    if op == "djump":
        t, sp = ids

        def djump(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            blk = jump_table.get(r[t])
            if blk is None:
                raise _halt(HaltKind.INVALID_JUMP)
            r[jump_params[blk]] = r[sp]
            return blk

        return djump
    if op in ("stop", "return", "revert"):
        kind = {"stop": ExitKind.STOP, "return": ExitKind.RETURN, "revert": ExitKind.REVERT}[op]
        if op == "stop":

            def stop(r: Regs, fr: Frame, buf: Buf) -> CBlock:
                raise FrameExit(kind)

            return stop
        a, b = ids

        def leave(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            o, n = r[a], r[b]
            fr.output = bytes(fr.memory[o : o + n]) if n else b""
            raise FrameExit(kind)

        return leave
    if op == "selfdestruct":
        a = ids[0]
        impl = IMPLEMENTATIONS["selfdestruct"]

        def selfdestruct(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            impl(fr, r[a])
            raise FrameExit(ExitKind.SELFDESTRUCT)

        return selfdestruct
    if op == "halt":
        hk = HaltKind(int(inst.imms[0]))

        def halt(r: Regs, fr: Frame, buf: Buf) -> CBlock:
            raise _halt(hk)

        return halt
    raise AssertionError(f"reference backend has no semantics for terminator {op}")
