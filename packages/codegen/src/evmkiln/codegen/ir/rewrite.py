"""Rewriting the uses of values, for passes that replace one value by another.

Values are used only in the block that defines them (see
:mod:`evmkiln.codegen.ir.function`), so replacing a value means rewriting one
block: its instructions' operands, its terminator's operands and the
arguments it passes along its edges.
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Block, Function, Value


def replace_uses(block: Block, substitute: dict[int, Value]) -> None:
    """Replace, within ``block``, every use of a value whose id is in ``substitute``."""
    for inst in block.insts:
        inst.args = [substitute.get(a.id, a) for a in inst.args]
    term = block.term
    if term is not None:
        term.args = [substitute.get(a.id, a) for a in term.args]
        for call in term.targets:
            call.args = [substitute.get(a.id, a) for a in call.args]


def drop_arguments(function: Function, dropped: dict[int, set[int]]) -> None:
    """Remove, from every edge into a block, the argument positions ``dropped[id(block)]``:
    for passes that remove block parameters (the block's own list is theirs to change)."""
    for block in function.blocks:
        term = block.term
        if term is None:
            continue
        for call in term.targets:
            drop = dropped.get(id(call.block))
            if drop:
                call.args = [a for i, a in enumerate(call.args) if i not in drop]
