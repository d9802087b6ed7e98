"""The IR's data structures: values, instructions, blocks and functions.

Plain data, no behaviour beyond bookkeeping: analyses, passes, printing and
verification live in their own modules.  Every value is defined exactly once,
by a block parameter or an instruction result, and is used only in the block
that defines it; whatever crosses a block boundary is passed as a block
argument.  That block-local discipline keeps lowering, verification and code
generation simple, and loses nothing since values flow along edges explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evmkiln.codegen.ir.types import Type


@dataclass(eq=False, slots=True)
class Value:
    id: int
    type: Type

    def __str__(self) -> str:
        return f"v{self.id}"

    def __repr__(self) -> str:
        return f"v{self.id}:{self.type}"


@dataclass(eq=False, slots=True)
class BlockCall:
    """A branch target with its arguments."""

    block: Block
    args: list[Value]


@dataclass(eq=False, slots=True)
class Inst:
    opcode: str
    args: list[Value]
    results: list[Value] = field(default_factory=list)
    imms: tuple[int | str, ...] = ()
    targets: list[BlockCall] = field(default_factory=list)
    pc: int = -1
    """Bytecode position this instruction was lowered from (-1 if none)."""


@dataclass(eq=False, slots=True)
class Block:
    name: str
    params: list[Value] = field(default_factory=list)
    insts: list[Inst] = field(default_factory=list)
    term: Inst | None = None
    pc: int = -1
    """Bytecode position of the EVM block this was lowered from (-1 if none)."""

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class Function:
    name: str
    blocks: list[Block] = field(default_factory=list)
    jump_table: dict[int, Block] = field(default_factory=dict)
    """Valid dynamic-jump destinations: bytecode pc -> block taking ``(sp: i64)``."""
    code: bytes = b""
    next_value: int = 0

    @property
    def entry(self) -> Block:
        return self.blocks[0]

    def new_value(self, ty: Type) -> Value:
        v = Value(self.next_value, ty)
        self.next_value += 1
        return v

    def new_block(self, name: str, params: list[Type] | None = None, pc: int = -1) -> Block:
        b = Block(name, [self.new_value(t) for t in params or []], pc=pc)
        self.blocks.append(b)
        return b

    def instruction_count(self) -> int:
        return sum(len(b.insts) + 1 for b in self.blocks)
