"""Optimisation levels as lists of passes, in one place."""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.passes.base import Pass
from evmkiln.codegen.passes.dead_code import DeadCodeElimination


def passes_for_level(level: int) -> list[Pass]:
    """Level 0 runs nothing; level 1 and above clean up after lowering."""
    if level <= 0:
        return []
    return [DeadCodeElimination()]


def run_passes(function: Function, level: int) -> None:
    for p in passes_for_level(level):
        p.run_pass(function)
