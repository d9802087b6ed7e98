"""Decoding bytecode into instructions and finding valid jump destinations.

Decoding follows the interpreter exactly: PUSH data is skipped, a PUSH
truncated by the end of the code reads zero bytes past the end (so its
value is right-padded), an undefined byte decodes as an instruction that
halts, and a JUMPDEST byte inside PUSH data is not a jump destination.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from evmkiln.codegen.evm.opcodes import OPCODES, OpInfo, opcodes_for


@dataclass(frozen=True, slots=True)
class Instr:
    """One decoded instruction."""

    pc: int
    op: int
    info: OpInfo | None
    """None for an undefined opcode."""
    immediate: int = 0
    """The pushed value for PUSHn (right-padded with zeros if truncated)."""

    @property
    def name(self) -> str:
        return self.info.name if self.info is not None else f"UNDEFINED(0x{self.op:02x})"

    @property
    def next_pc(self) -> int:
        return self.pc + 1 + (self.info.immediate_size if self.info is not None else 0)


def decode(code: bytes, fork: str = "cancun") -> list[Instr]:
    """Decode ``code`` into instructions in program order, with ``fork``'s opcode table."""
    table = OPCODES if fork == "cancun" else opcodes_for(fork)
    out: list[Instr] = []
    pc = 0
    n = len(code)
    while pc < n:
        op = code[pc]
        info = table.get(op)
        if info is not None and info.immediate_size:
            size = info.immediate_size
            data = code[pc + 1 : pc + 1 + size]
            value = int.from_bytes(data.ljust(size, b"\0"), "big")
            out.append(Instr(pc, op, info, value))
            pc += 1 + size
        else:
            out.append(Instr(pc, op, info))
            pc += 1
    return out


PUSH1, PUSH32 = 0x60, 0x7F


def instruction_pcs(code: bytes) -> Iterator[int]:
    """The program counter of each instruction of ``code`` in order, PUSH data skipped.

    Without building :class:`Instr` objects: for scans of a code's opcodes
    (which instructions could halt, whether any runs a frame).  Only PUSH1
    to PUSH32 carry immediates in every supported fork.
    """
    pc = 0
    n = len(code)
    while pc < n:
        yield pc
        op = code[pc]
        pc += op - PUSH1 + 2 if PUSH1 <= op <= PUSH32 else 1


def jumpdests(instrs: list[Instr]) -> frozenset[int]:
    """The program counters of JUMPDEST instructions (never inside PUSH data)."""
    return frozenset(i.pc for i in instrs if i.op == 0x5B)
