"""Which versions of each EVM block the lowering emits.

A block can be lowered in two ways:

* **known height** (``K``): every predecessor is a direct edge and all agree on
  the stack height ``h`` at entry.  The whole stack is passed as ``h`` block
  parameters, so every slot is an SSA value and stack checks are resolved at
  compile time.
* **dynamic** (``D``): the entry height is not known statically (the block is a
  dynamic-jump destination, or predecessors disagree).  The block takes the
  stack pointer ``sp`` as its only parameter; slots live in the stack buffer at
  block boundaries and are SSA values inside the block.

Every JUMPDEST gets a dynamic version when the code has any dynamic jump (those
versions form the jump table), and whatever a dynamic version reaches is
dynamic too.  A block can have both versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evmkiln.codegen.evm.blocks import STACK_LIMIT, Program

KNOWN_HEIGHT_LIMIT = 64
"""Deeper stacks are passed through the stack buffer rather than as parameters."""

K = "K"
D = "D"


@dataclass(slots=True)
class VersionPlan:
    known_height: dict[int, int] = field(default_factory=dict)
    versions: list[tuple[int, str]] = field(default_factory=list)
    """Reachable (block start, mode) pairs, in a stable order, entry first."""

    def height_of(self, start: int) -> int:
        """Entry height of a known-height version (the entry block is always height 0)."""
        return self.known_height.get(start, 0)

    def mode_of_edge(self, succ: int, out_height: int) -> str:
        if self.known_height.get(succ) == out_height:
            return K
        return D


def statically_halts(prog: Program, start: int, height: int) -> bool:
    blk = prog.blocks[start]
    return height < blk.min_height or height + blk.max_growth > STACK_LIMIT


def plan_versions(prog: Program) -> VersionPlan:
    """Compute entry heights along direct edges, then the reachable versions."""
    known: dict[int, int] = {0: 0}
    conflict: set[int] = set()
    work = [0]
    while work:
        start = work.pop()
        h = known.get(start)
        if h is None or statically_halts(prog, start, h):
            continue
        blk = prog.blocks[start]
        out = h + blk.delta
        for succ in blk.successors:
            if succ in conflict:
                continue
            if out > KNOWN_HEIGHT_LIMIT:
                conflict.add(succ)
                known.pop(succ, None)
            elif succ not in known:
                known[succ] = out
                work.append(succ)
            elif known[succ] != out:
                conflict.add(succ)
                del known[succ]
    plan = VersionPlan(known_height=known)
    seen: set[tuple[int, str]] = set()
    roots: list[tuple[int, str]] = [(0, K)]
    if prog.has_dynamic_jumps:
        roots += [(j, D) for j in sorted(prog.jumpdests)]
    stack = list(reversed(roots))
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        plan.versions.append(key)
        start, mode = key
        if mode == K:
            h = plan.height_of(start)
            if statically_halts(prog, start, h):
                continue
            out = h + prog.blocks[start].delta
            succs = [(s, plan.mode_of_edge(s, out)) for s in prog.blocks[start].successors]
        else:
            succs = [(s, D) for s in prog.blocks[start].successors]
        stack.extend(reversed(succs))
    return plan
