"""Remove instructions whose results are never used and that have no effect.

Lowering leaves such instructions behind on purpose (constants pushed only to
be consumed by a jump that became a direct branch, values popped unused), so
it can stay a simple one-pass translation.  Only instructions the table marks
as neither effectful nor halting are removed: a charge, a memory access or a
builtin call always stays, whatever uses its results.
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.opcodes import INSTS


def _removable(opcode: str) -> bool:
    d = INSTS[opcode]
    return not (d.has_effects or d.can_halt or d.terminator or d.variadic)


_REMOVABLE = frozenset(name for name in INSTS if _removable(name))


class DeadCodeElimination:
    name = "dead_code"

    def run_pass(self, function: Function) -> bool:
        changed = False
        removable = _REMOVABLE
        for block in function.blocks:
            used: set[int] = set()
            if block.term is not None:
                used.update([a.id for a in block.term.args])
                for t in block.term.targets:
                    used.update([a.id for a in t.args])
            kept = []
            # Backwards, so a chain of dead values disappears in one sweep.
            for inst in reversed(block.insts):
                if inst.opcode in removable:
                    for r in inst.results:
                        if r.id in used:
                            break
                    else:
                        changed = True
                        continue
                kept.append(inst)
                for a in inst.args:
                    used.add(a.id)
            kept.reverse()
            block.insts = kept
        return changed
