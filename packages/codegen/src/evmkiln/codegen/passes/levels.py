"""Optimisation levels as lists of passes, in one place."""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.passes.base import Pass
from evmkiln.codegen.passes.constant_folding import ConstantFolding
from evmkiln.codegen.passes.constant_params import ConstantParams
from evmkiln.codegen.passes.dead_code import DeadCodeElimination
from evmkiln.codegen.passes.unreachable_blocks import UnreachableBlocks


def passes_for_level(level: int) -> list[Pass]:
    """Level 0 runs nothing; level 1 and above propagate and fold constants across
    blocks, then clean up after lowering and folding.

    Constant parameters go first (they feed the folding), a branch folded to a
    jump can leave blocks unreachable, and those removed can make more
    parameters constant, which the second round takes; every pass is linear
    in the function, and two rounds are a fixed bound.
    """
    if level <= 0:
        return []
    one_round: list[Pass] = [ConstantParams(), ConstantFolding(), UnreachableBlocks()]
    return [*one_round, *one_round, DeadCodeElimination()]


def run_passes(function: Function, level: int) -> None:
    for p in passes_for_level(level):
        p.run_pass(function)
