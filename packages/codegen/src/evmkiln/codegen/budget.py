"""The compile budget: how much IR a code may lower to before the compiler declines it.

Bytecode is untrusted: a state test's pre-state has no size limit, and even a
deployable 24,576-byte contract can be written to lower to as much IR as it
can.  Every phase after lowering (verification, passes, a backend's
translation, LLVM's pipeline and code generator, Cranelift) costs at least
linear time and memory in the size of the IR, and some of them more.  So the
size of the IR is limited in proportion to the length of the code, with a
cap, and checked as soon as it is known:

* the code length, before decoding (:data:`MAX_CODE_BYTES`);
* the block versions lowering plans and the stack they carry, before lowering
  builds anything (:func:`check_plan`);
* the lowered function, before passes, verification and any backend
  (:func:`check_function`).

A code over budget raises :class:`CompileBudgetExceeded`.  It is a
:class:`CompileRefused`: not a compiler bug but a decision, so the context
runs such code on py-evm's interpreter even where compile failures are
otherwise raised (see :mod:`evmkiln.context.code_cache`).

The limits are several times what real contracts need (the bench contracts
and the state tests' pre-state contracts: at most 2.3 instructions, 1.0 block
and 2.5 block parameters plus branch arguments per byte, the last two on
``stQuadraticComplexityTest``'s 22 KB of JUMPDESTs) and far below what
crafted code reaches (64 block parameters and 64 branch arguments per byte
with a 64-deep stack carried through a run of JUMPDESTs).  See "Compile
budget" in the package README for the measurements behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evmkiln.codegen.ir.function import Function
    from evmkiln.codegen.lowering.versions import VersionPlan


class CompileRefused(Exception):
    """The compiler declines this code on purpose; the interpreter runs it instead.

    Unlike any other exception from lowering or a backend, this is not a
    compiler bug: callers that raise on compile failures still interpret
    refused code.
    """


class CompileBudgetExceeded(CompileRefused):
    """The code would lower to more IR (or a larger backend module) than its budget."""

    def __init__(self, what: str, size: int, limit: int, code_length: int | None = None) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        self.code_length = code_length
        of_code = "" if code_length is None else f" for {code_length:,} bytes of code"
        super().__init__(f"compile budget exceeded: {size:,} {what}{of_code} (limit {limit:,})")


@dataclass(frozen=True, slots=True)
class Limit:
    """``base + per_byte * code length``, at most ``cap``."""

    what: str
    base: int
    per_byte: int
    cap: int

    def for_code(self, code_length: int) -> int:
        return min(self.cap, self.base + self.per_byte * code_length)

    def check(self, size: int, code_length: int) -> None:
        limit = self.for_code(code_length)
        if size > limit:
            raise CompileBudgetExceeded(self.what, size, limit, code_length)


MAX_CODE_BYTES = 256 * 1024
"""Longer code is not even decoded: ten times EIP-170's limit on deployed code,
four times the longest pre-state code of the state tests (60 KB)."""

DEPLOYED_CODE_LIMIT = 24_576
"""EIP-170's limit on deployed code: longer code (initcode, pre-state) gets no
more than the caps, set around the limits at this length."""

INSTRUCTIONS = Limit("IR instructions", base=4096, per_byte=4, cap=65_536)
"""Instructions and terminators.  Real contracts: at most 2.3 per byte (most
below 1); 44,481 for the largest (22 KB of JUMPDESTs).  The cap is lower than
the per-byte limit at 24,576 bytes: Cranelift's register allocators and
LLVM's InstCombine grow faster than linearly on some shapes, and the cap is
what bounds them."""

BLOCKS = Limit("IR blocks", base=1024, per_byte=2, cap=2 * DEPLOYED_CODE_LIMIT)
"""A block per byte is what a run of JUMPDESTs gives; with a dynamic jump each
can have two versions.  Real contracts: at most 1 per byte, 0.13 apart from
runs of JUMPDESTs."""

EDGE_VALUES = Limit(
    "block parameters and branch arguments", base=4096, per_byte=8, cap=8 * DEPLOYED_CODE_LIMIT
)
"""What a known-height stack costs at block boundaries: a parameter per slot at
entry, an argument per slot on every edge.  Real contracts: at most 2.5 per
byte; a 64-deep stack through a run of JUMPDESTs: 128."""

LIMITS = (INSTRUCTIONS, BLOCKS, EDGE_VALUES)


def check_code(code_length: int) -> None:
    """Refuse code too long to be worth decoding."""
    if code_length > MAX_CODE_BYTES:
        raise CompileBudgetExceeded("bytes of code", code_length, MAX_CODE_BYTES, code_length)


def plan_fits(plan: VersionPlan, code_length: int) -> bool:
    """Whether :func:`check_plan` would accept ``plan``."""
    try:
        check_plan(plan, code_length)
    except CompileBudgetExceeded:
        return False
    return True


def check_plan(plan: VersionPlan, code_length: int) -> None:
    """Refuse, before lowering, a plan whose blocks or entry stacks are already over budget.

    Each planned version is a block, and a known-height version takes its
    whole stack as parameters: both are lower bounds of the function's size.
    """
    BLOCKS.check(len(plan.versions), code_length)
    params = sum(height for _, height in plan.known_versions())
    EDGE_VALUES.check(params, code_length)


@dataclass(frozen=True, slots=True)
class IrSize:
    """The measures of a function the budget limits, and what reports show besides.

    Versions of EVM blocks are told apart by their names (lowering's
    ``d<pc>`` for a dynamic version, ``k<pc>`` for a known-height one): the
    passes can remove any parameter a version was lowered with.
    """

    instructions: int
    blocks: int
    edge_values: int
    jump_table: int
    known_versions: int = 0
    dynamic_versions: int = 0
    stack_loads: int = 0
    stack_stores: int = 0

    @classmethod
    def of(cls, function: Function) -> IrSize:
        instructions = edge_values = known = dynamic = loads = stores = 0
        for block in function.blocks:
            instructions += len(block.insts) + 1
            edge_values += len(block.params)
            if block.pc >= 0:
                if block.name.startswith("d"):
                    dynamic += 1
                else:
                    known += 1
            for inst in block.insts:
                if inst.opcode == "stack.load":
                    loads += 1
                elif inst.opcode == "stack.store":
                    stores += 1
            if block.term is not None:
                for target in block.term.targets:
                    edge_values += len(target.args)
        return cls(
            instructions,
            len(function.blocks),
            edge_values,
            len(function.jump_table),
            known,
            dynamic,
            loads,
            stores,
        )


def check_function(function: Function, code_length: int) -> IrSize:
    """Refuse a lowered function over budget; return its size."""
    size = IrSize.of(function)
    INSTRUCTIONS.check(size.instructions, code_length)
    BLOCKS.check(size.blocks, code_length)
    EDGE_VALUES.check(size.edge_values, code_length)
    return size
