"""Remove blocks that nothing can enter.

A branch folded to a jump (:mod:`~evmkiln.codegen.passes.constant_folding`)
can leave its other target without a predecessor; so can lowering, for a
version only the folded branch reached.  Such a block, and whatever only it
reaches, is dead code that every backend would still translate.  Blocks are
entered from the entry block, from branches, and from the jump table (any
``djump``); everything else is removed, keeping the order of the rest.
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function


class UnreachableBlocks:
    name = "unreachable_blocks"

    def run_pass(self, function: Function) -> bool:
        roots = [function.entry, *function.jump_table.values()]
        seen = {id(b) for b in roots}
        stack = list(roots)
        while stack:
            block = stack.pop()
            term = block.term
            if term is None:
                continue
            for call in term.targets:
                target = call.block
                if id(target) not in seen:
                    seen.add(id(target))
                    stack.append(target)
        if len(seen) == len(function.blocks):
            return False
        function.blocks = [b for b in function.blocks if id(b) in seen]
        return True
