"""Remove block parameters whose values nothing needs, and their arguments at every edge.

Why: a block version takes every stack slot its predecessors hold as a
parameter, whether or not it reads them, and merging and constant
propagation leave more of them unread.  Each parameter is an argument at
every edge into the block: a copy on each edge for the wasm backend, a phi
for LLVM, and IR that every later pass walks.  revmc drops dead stack
values the same way before emitting code.

A parameter is needed when its block uses it in an instruction or in its
terminator's own operands, or passes it as the argument of a needed
parameter of a successor.  That is a backward fixed point over the edges (a
value carried around a loop, never read, is not needed): each parameter is
marked at most once, so the pass is linear in the function.  The entry block
and jump-table destinations keep their parameters: their callers are the
backends' calling conventions, not edges of the function.  Instructions
whose results were only such arguments are left to dead-code elimination.
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.rewrite import drop_arguments


class UnusedParams:
    name = "unused_params"

    def run_pass(self, function: Function) -> bool:
        fixed = {id(function.entry), *(id(b) for b in function.jump_table.values())}
        params = {p.id for block in function.blocks for p in block.params}
        needed: set[int] = set()
        work: list[int] = []

        def need(value_id: int) -> None:
            if value_id in params and value_id not in needed:
                needed.add(value_id)
                work.append(value_id)

        # Edges that pass a value into each parameter: (calling block's value id).
        incoming: dict[int, list[int]] = {}
        for block in function.blocks:
            if id(block) in fixed:
                for param in block.params:
                    need(param.id)
            for inst in block.insts:
                for arg in inst.args:
                    need(arg.id)
            term = block.term
            if term is None:
                continue
            for arg in term.args:
                need(arg.id)
            for call in term.targets:
                for param, arg in zip(call.block.params, call.args, strict=True):
                    incoming.setdefault(param.id, []).append(arg.id)
        while work:
            for arg_id in incoming.get(work.pop(), ()):
                need(arg_id)
        dropped: dict[int, set[int]] = {}
        for block in function.blocks:
            if id(block) in fixed:
                continue
            unused = {i for i, p in enumerate(block.params) if p.id not in needed}
            if unused:
                dropped[id(block)] = unused
                block.params = [p for p in block.params if p.id in needed]
        if not dropped:
            return False
        drop_arguments(function, dropped)
        return True
