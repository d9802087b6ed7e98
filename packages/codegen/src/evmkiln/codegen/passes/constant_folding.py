"""Fold instructions whose operands are constants, and branches on a constant.

Lowering folds what a block pushes itself; constants that arrive as block
parameters (replaced by :mod:`~evmkiln.codegen.passes.constant_params`)
reach their uses only here.  A pure instruction over constants becomes a
constant (its result value is kept, so its uses need no rewrite), with the
semantics of :mod:`evmkiln.codegen.ir.semantics` that the reference backend
executes; a ``brif`` on a constant becomes a ``jump`` to the branch taken.
Effects are never touched: charges, memory accesses and builtin calls stay
whatever their operands (EXP's byte gas, for one, is folded into a constant
amount but still charged by its ``gas.charge_dyn``).
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function, Inst
from evmkiln.codegen.ir.semantics import BINARY, MASK, TERNARY, UNARY, bytelen

_I64 = (1 << 64) - 1


def _fold(inst: Inst, args: list[int]) -> tuple[str, int] | None:
    """The constant ``inst`` computes from ``args``, as (``const.*`` opcode, value)."""
    op = inst.opcode
    if op in BINARY and len(args) == 2:
        return "const.i256", BINARY[op](args[0], args[1]) & MASK
    if op in UNARY and len(args) == 1:
        return "const.i256", UNARY[op](args[0]) & MASK
    if op in TERNARY and len(args) == 3:
        return "const.i256", TERNARY[op](args[0], args[1], args[2]) & MASK
    if op == "zext":
        return "const.i256", args[0]
    if op == "bytelen":
        return "const.i64", bytelen(args[0])
    if op == "iadd":
        return "const.i64", (args[0] + args[1]) & _I64
    if op == "imul":
        return "const.i64", (args[0] * args[1]) & _I64
    if op == "iadd_imm":
        delta = inst.imms[0]
        assert isinstance(delta, int)
        return "const.i64", (args[0] + delta) & _I64
    return None


class ConstantFolding:
    name = "constant_folding"

    def run_pass(self, function: Function) -> bool:
        changed = False
        for block in function.blocks:
            known: dict[int, int] = {}
            truth: dict[int, int] = {}
            """``istrue`` results over a constant, by id: the constant."""
            for inst in block.insts:
                op = inst.opcode
                if op.startswith("const."):
                    value = inst.imms[0]
                    assert isinstance(value, int)
                    known[inst.results[0].id] = value
                    continue
                if not inst.args or len(inst.results) != 1:
                    continue
                args = [known.get(a.id) for a in inst.args]
                if any(a is None for a in args):
                    continue
                values = [a for a in args if a is not None]
                if op == "istrue":
                    truth[inst.results[0].id] = values[0]
                    continue
                folded = _fold(inst, values)
                if folded is None:
                    continue
                inst.opcode, value = folded
                inst.args = []
                inst.imms = (value,)
                known[inst.results[0].id] = value
                changed = True
            term = block.term
            if term is not None and term.opcode == "brif":
                cond = truth.get(term.args[0].id)
                if cond is not None:
                    taken = term.targets[0] if cond else term.targets[1]
                    block.term = Inst("jump", [], targets=[taken], pc=term.pc)
                    changed = True
        return changed
