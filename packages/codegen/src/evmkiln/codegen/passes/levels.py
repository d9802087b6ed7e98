"""Optimisation levels as lists of passes, in one place."""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.passes.base import Pass
from evmkiln.codegen.passes.constant_folding import ConstantFolding
from evmkiln.codegen.passes.constant_params import ConstantParams
from evmkiln.codegen.passes.dead_code import DeadCodeElimination
from evmkiln.codegen.passes.deduplicate_blocks import DeduplicateBlocks
from evmkiln.codegen.passes.gas_segments import GasSegments
from evmkiln.codegen.passes.merge_blocks import MergeBlocks
from evmkiln.codegen.passes.unreachable_blocks import UnreachableBlocks
from evmkiln.codegen.passes.unused_params import UnusedParams


def passes_for_level(level: int) -> list[Pass]:
    """Level 0 runs nothing; level 1 and above propagate and fold constants across
    blocks, merge straight-line blocks and their gas charges, then clean up.

    Constant parameters go first (they feed the folding), a branch folded to a
    jump can leave blocks unreachable, and those removed can make more
    parameters constant, which the second round takes; folded branches leave
    chains of jumps for the merge.  The clean-up removes dead instructions,
    then the parameters nothing reads (which leaves the instructions that only
    fed them dead), then blocks that duplicate others (fewer parameters and
    instructions make more of them equal).  Every pass is linear in the
    function, and the list is a fixed bound.
    """
    if level <= 0:
        return []
    one_round: list[Pass] = [ConstantParams(), ConstantFolding(), UnreachableBlocks()]
    return [
        *one_round,
        *one_round,
        MergeBlocks(),
        GasSegments(),
        DeadCodeElimination(),
        UnusedParams(),
        DeadCodeElimination(),
        DeduplicateBlocks(),
    ]


def run_passes(function: Function, level: int) -> None:
    for p in passes_for_level(level):
        p.run_pass(function)
