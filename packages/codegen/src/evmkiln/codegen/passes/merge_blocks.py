"""Merge a block into its predecessor when that unconditional jump is its only way in.

Why: lowering makes a block per EVM block version, so straight-line code that
the EVM splits at every JUMPDEST (and that jump resolution and constant
folding turn into chains of ``jump``) stays split: each block boundary is a
set of block parameters, and each block starts a gas segment of its own.
Merged, the chain is one block: its values need no parameters, and its
charges can be merged (:mod:`~evmkiln.codegen.passes.gas_segments`).

A block ``B`` is merged into ``A`` when ``A`` ends with ``jump B(args)``, no
other edge enters ``B`` and ``B`` is entered from nowhere else (not the entry
block, not a jump-table destination).  ``B``'s parameters become ``A``'s
arguments, ``B``'s instructions and terminator follow ``A``'s.  Each merge
removes a block, so the pass is linear in the function.
"""

from __future__ import annotations

from collections import Counter

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.rewrite import replace_uses


class MergeBlocks:
    name = "merge_blocks"

    def run_pass(self, function: Function) -> bool:
        edges: Counter[int] = Counter()
        for block in function.blocks:
            if block.term is not None:
                for call in block.term.targets:
                    edges[id(call.block)] += 1
        external = {id(function.entry), *(id(b) for b in function.jump_table.values())}
        merged: set[int] = set()
        for block in function.blocks:
            if id(block) in merged:
                continue
            while True:
                term = block.term
                if term is None or term.opcode != "jump":
                    break
                call = term.targets[0]
                succ = call.block
                if succ is block or id(succ) in external or edges[id(succ)] != 1:
                    break
                substitute = {p.id: a for p, a in zip(succ.params, call.args, strict=True)}
                replace_uses(succ, substitute)
                block.insts.extend(succ.insts)
                block.term = succ.term
                merged.add(id(succ))
        if not merged:
            return False
        function.blocks = [b for b in function.blocks if id(b) not in merged]
        return True
