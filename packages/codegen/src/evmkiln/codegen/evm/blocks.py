"""Basic blocks of EVM bytecode and the facts lowering needs about them.

A block starts at pc 0, at every JUMPDEST and after every instruction that
ends control flow; it ends at a terminator, before the next JUMPDEST, or at
the end of the code (an implicit STOP).  For each block we record its stack
requirement (the least height it needs on entry), its peak growth, its net
effect, and how it leaves: a static jump (a constant target computed inside
the block), a dynamic jump, a fall-through or an exit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from evmkiln.codegen.evm.bytecode import Instr, decode, jumpdests
from evmkiln.codegen.evm.opcodes import Kind
from evmkiln.codegen.ir.semantics import BINARY, TERNARY, UNARY

STACK_LIMIT = 1024


class Exit(enum.Enum):
    FALLTHROUGH = "fallthrough"  # runs into the next block (which starts at a JUMPDEST)
    JUMP = "jump"
    JUMPI = "jumpi"
    HALT = "halt"  # STOP, RETURN, REVERT, INVALID, SELFDESTRUCT, undefined opcode, end of code


@dataclass(slots=True)
class EvmBlock:
    start: int
    instrs: list[Instr]
    end: int
    """pc just past the last instruction."""
    min_height: int = 0
    max_growth: int = 0
    delta: int = 0
    exit: Exit = Exit.HALT
    static_target: int | None = None
    """For JUMP/JUMPI: the constant destination if it is computed within the block."""
    successors: list[int] = field(default_factory=list)
    """Start pcs of the blocks control may reach directly (not through the jump table)."""
    invalid_static_target: bool = False


@dataclass(slots=True)
class Program:
    code: bytes
    instrs: list[Instr]
    jumpdests: frozenset[int]
    blocks: dict[int, EvmBlock]
    has_dynamic_jumps: bool


def _split(instrs: list[Instr], dests: frozenset[int]) -> list[list[Instr]]:
    groups: list[list[Instr]] = []
    cur: list[Instr] = []
    for ins in instrs:
        if ins.pc in dests and cur:
            groups.append(cur)
            cur = []
        cur.append(ins)
        if ins.info is None or ins.info.is_terminator:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    return groups


def _stack_effects(block: EvmBlock) -> None:
    height = 0
    low = 0
    high = 0
    for ins in block.instrs:
        info = ins.info
        if info is None:
            break
        height -= info.pops
        low = min(low, height)
        height += info.pushes
        high = max(high, height)
    block.min_height = -low
    block.max_growth = high
    block.delta = height


def _fold_target(block: EvmBlock) -> int | None:
    """Abstractly run the block on unknown inputs; return a constant jump target, if any."""
    stack: list[int | None] = []

    def pop() -> int | None:
        return stack.pop() if stack else None

    def peek(depth: int) -> int | None:
        return stack[-depth] if len(stack) >= depth else None

    for ins in block.instrs:
        info = ins.info
        if info is None:
            return None
        k = info.kind
        if k in (Kind.JUMP, Kind.JUMPI):
            return pop()
        if k is Kind.PUSH:
            stack.append(ins.immediate)
        elif k is Kind.DUP:
            stack.append(peek(info.pops))
        elif k is Kind.SWAP:
            n = info.pops
            while len(stack) < n:
                stack.insert(0, None)
            stack[-1], stack[-n] = stack[-n], stack[-1]
        elif k is Kind.PURE:
            args = [pop() for _ in range(info.pops)]
            res: int | None = None
            if all(a is not None for a in args):
                vals = [a for a in args if a is not None]
                if info.pops == 2:
                    res = BINARY[info.ir_op](vals[0], vals[1])
                elif info.pops == 3:
                    res = TERNARY[info.ir_op](vals[0], vals[1], vals[2])
                else:
                    res = UNARY[info.ir_op](vals[0])
            stack.append(res)
        elif ins.op == 0x58:  # PC
            stack.append(ins.pc)
        elif ins.op == 0x38:  # CODESIZE
            stack.append(None)
        else:
            for _ in range(info.pops):
                pop()
            stack.extend([None] * info.pushes)
    return None


def analyze(code: bytes, fork: str = "cancun") -> Program:
    """Decode ``code`` (as ``fork`` defines opcodes), compute its blocks and their facts."""
    instrs = decode(code, fork)
    dests = jumpdests(instrs)
    blocks: dict[int, EvmBlock] = {}
    for group in _split(instrs, dests):
        blk = EvmBlock(group[0].pc, group, group[-1].next_pc)
        _stack_effects(blk)
        blocks[blk.start] = blk
    if 0 not in blocks:  # empty code
        blocks[0] = EvmBlock(0, [], 0)
    has_dynamic = False
    for blk in blocks.values():
        last = blk.instrs[-1] if blk.instrs else None
        info = last.info if last is not None else None
        if last is None or info is None:
            blk.exit = Exit.HALT
        elif info.kind in (Kind.JUMP, Kind.JUMPI):
            blk.exit = Exit.JUMP if info.kind is Kind.JUMP else Exit.JUMPI
            target = _fold_target(blk)
            blk.static_target = target
            if target is None:
                has_dynamic = True
            elif target in dests:
                blk.successors.append(target)
            else:
                blk.invalid_static_target = True
            if info.kind is Kind.JUMPI:
                blk.successors.append(blk.end)
        elif info.is_terminator:
            blk.exit = Exit.HALT
        elif blk.end in blocks or blk.end in dests:
            blk.exit = Exit.FALLTHROUGH
            blk.successors.append(blk.end)
        else:
            blk.exit = Exit.HALT  # falls off the end of the code: STOP
    # A JUMPI at the very end of the code falls through to nothing: an implicit STOP block.
    for blk in list(blocks.values()):
        for s in blk.successors:
            if s not in blocks:
                blocks[s] = EvmBlock(s, [], s)
    return Program(code, instrs, dests, blocks, has_dynamic)
