"""The IR instruction set, declared once.

Each entry gives the operand types, result types, the kinds of immediates the
instruction carries and its effects.  The builder, the verifier, the printer,
the parser and every backend are driven by this table; adding an instruction
means adding a row here and its semantics in the reference backend.

Operand order for the EVM word operations is the EVM pop order: the first
operand was the top of the stack (``sub a, b`` is ``a - b``).
"""

from __future__ import annotations

from dataclasses import dataclass

from evmkiln.codegen.ir.types import Type

W, L, C = Type.I256, Type.I64, Type.I1


@dataclass(frozen=True, slots=True)
class InstDef:
    name: str
    args: tuple[Type, ...]
    results: tuple[Type, ...]
    imms: tuple[str, ...] = ()
    """Names of immediate operands, in order (printed after the value operands)."""
    can_halt: bool = False
    """May end the frame with an exceptional halt."""
    has_effects: bool = False
    """Observable beyond its results (writes memory, gas, the stack buffer)."""
    terminator: bool = False
    variadic: bool = False
    """Operand and result types come from elsewhere (``call`` reads the builtins table)."""


_DEFS: list[InstDef] = []


def _d(name: str, args: tuple[Type, ...], results: tuple[Type, ...], **kw: object) -> None:
    _DEFS.append(InstDef(name, args, results, **kw))  # type: ignore[arg-type]


# Constants: the result type is part of the instruction (const.i256 / const.i64).
_d("const.i256", (), (W,), imms=("value",))
_d("const.i64", (), (L,), imms=("value",))

# EVM word arithmetic, comparison, bitwise and shift operations.
for _name in (
    "add", "sub", "mul", "div", "sdiv", "mod", "smod", "exp", "signextend",
    "lt", "gt", "slt", "sgt", "eq", "and", "or", "xor", "byte", "shl", "shr", "sar",
):  # fmt: skip
    _d(_name, (W, W), (W,))
_d("addmod", (W, W, W), (W,))
_d("mulmod", (W, W, W), (W,))
_d("iszero", (W,), (W,))
_d("not", (W,), (W,))
_d("clz", (W,), (W,))  # EIP-7939 (Osaka): leading zero bits, 256 for zero

# Conversions and i64 arithmetic (gas amounts, offsets, the stack pointer).
_d("istrue", (W,), (C,))  # word != 0
_d("zext", (L,), (W,))  # i64 -> i256
_d("bytelen", (W,), (L,))  # number of significant bytes of a word (EXP's byte cost)
_d("iadd", (L, L), (L,))
_d("imul", (L, L), (L,))
_d("iadd_imm", (L,), (L,), imms=("delta",))

# Gas: explicit, so no transformation can drop a charge.
_d("gas.charge", (), (), imms=("amount",), can_halt=True, has_effects=True)
_d("gas.charge_dyn", (L,), (), can_halt=True, has_effects=True)
_d("gas.left", (), (L,))

# Memory.  ``mem.access`` expands memory to cover [offset, offset + size) for a
# fixed size, charging expansion gas, and yields the offset as i64; the loads
# and stores that follow are in bounds by construction.  ``mem.region`` does the
# same for a dynamic size (a zero size never expands and yields (0, 0)).
_d("mem.access", (W,), (L,), imms=("size",), can_halt=True, has_effects=True)
_d("mem.region", (W, W), (L, L), can_halt=True, has_effects=True)
_d("mload", (L,), (W,))
_d("mstore", (L, W), (), has_effects=True)
_d("mstore8", (L, W), (), has_effects=True)
_d("msize", (), (L,))

# The stack buffer: where stack slots live across blocks entered dynamically.
# ``stack.check`` halts unless min <= sp and sp + growth <= 1024.
_d("stack.check", (L,), (), imms=("min", "growth"), can_halt=True)
_d("stack.load", (L,), (W,), imms=("slot",))  # reads buffer[sp + slot]
_d("stack.store", (L, W), (), imms=("slot",), has_effects=True)

# Builtin calls: signature from evmkiln.builtins.table.BUILTINS.
_d("call", (), (), imms=("builtin",), variadic=True, can_halt=True, has_effects=True)

# Terminators.  Branch targets are written as block calls: ``block7(v1, v2)``.
_d("jump", (), (), terminator=True, variadic=True)
_d("brif", (C,), (), terminator=True, variadic=True)
_d("djump", (W, L), (), terminator=True, can_halt=True)  # via the function's jump table
_d("stop", (), (), terminator=True)
_d("return", (L, L), (), terminator=True)
_d("revert", (L, L), (), terminator=True)
_d("selfdestruct", (W,), (), terminator=True, can_halt=True, has_effects=True)
_d("halt", (), (), imms=("kind",), terminator=True, can_halt=True)

INSTS: dict[str, InstDef] = {d.name: d for d in _DEFS}
