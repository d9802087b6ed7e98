"""Merge the static charges of a block that no gas observer separates.

Lowering starts a gas segment at every EVM block; once blocks are merged
(:mod:`~evmkiln.codegen.passes.merge_blocks`), a block can hold several
``gas.charge`` instructions with nothing between them that reads the gas
left.  They become one charge, at the first one's place: each charge is a
compare and a branch to the out-of-gas exit in native code.

Why this is unobservable is the segment rule of docs/gas.md, extended to
charges within one IR block: a block has no branch before its terminator,
so every instruction of it runs unless the frame halts exceptionally (and a
halt consumes all gas and reverts the frame wherever it happens); charges
only subtract, so the block completes with the merged charge exactly when
it completes with the separate ones.  Observers (``gas.left``, and builtins
marked ``observes_gas``: calls, creates, SSTORE) end a run of charges: a
charge after one is never moved before it.
"""

from __future__ import annotations

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.ir.function import Function, Inst


def _observes_gas(inst: Inst) -> bool:
    if inst.opcode == "gas.left":
        return True
    if inst.opcode == "call":
        return BUILTINS[str(inst.imms[0])].observes_gas
    return False


class GasSegments:
    name = "gas_segments"

    def run_pass(self, function: Function) -> bool:
        changed = False
        for block in function.blocks:
            first: Inst | None = None
            kept: list[Inst] = []
            for inst in block.insts:
                if inst.opcode == "gas.charge":
                    if first is None:
                        first = inst
                    else:
                        total = int(first.imms[0]) + int(inst.imms[0])
                        first.imms = (total,)
                        changed = True
                        continue
                elif _observes_gas(inst):
                    first = None
                kept.append(inst)
            block.insts = kept
        return changed
