"""Which versions of each EVM block the lowering emits.

A block can be lowered in two ways:

* **known height** (``K``): entered at a stack height ``h`` known at compile
  time.  The whole stack is passed as ``h`` block parameters, so every slot is
  an SSA value and stack checks are resolved at compile time.  A block can
  have a known-height version per height it is reached at (at most
  :data:`~evmkiln.codegen.evm.jump_analysis.MAX_HEIGHTS_PER_BLOCK`).
* **dynamic** (``D``): the entry height is not known statically.  The block
  takes the stack pointer ``sp`` as its only parameter; slots live in the
  stack buffer at block boundaries and are SSA values inside the block.

Known-height versions are the contexts of
:func:`~evmkiln.codegen.evm.jump_analysis.analyze_jumps`: what pc 0 reaches
through direct edges and resolved jumps.  An edge to a height the analysis
did not keep goes to the dynamic version.  A jump the analysis could not
resolve goes through the jump table, whose entries are the dynamic versions
of every JUMPDEST (an unknown destination may be any of them); the jump
table, and the dynamic versions, exist only if some reachable version makes
such a jump.  Whatever a dynamic version reaches is dynamic too: the facts
hold only for the known-height world.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evmkiln.codegen.evm.blocks import Exit, Program
from evmkiln.codegen.evm.jump_analysis import (
    MAX_HEIGHT,
    Context,
    JumpFacts,
    analyze_jumps,
    statically_halts,
)

KNOWN_HEIGHT_LIMIT = MAX_HEIGHT
"""Deeper stacks are passed through the stack buffer rather than as parameters."""

K = "K"
D = "D"

Version = tuple[int, str, int]
"""(block start, mode, entry height); the height of a dynamic version is 0."""

__all__ = [
    "KNOWN_HEIGHT_LIMIT",
    "D",
    "K",
    "Version",
    "VersionPlan",
    "plan_versions",
    "statically_halts",
]


@dataclass(slots=True)
class VersionPlan:
    facts: JumpFacts = field(default_factory=JumpFacts)
    versions: list[Version] = field(default_factory=list)
    """Reachable versions, in a stable order, entry first."""
    uses_jump_table: bool = False
    """Some reachable version jumps to a destination known only at run time."""

    def mode_of_edge(self, succ: int, out_height: int) -> str:
        """The version an edge from a known-height version enters."""
        return K if self.facts.has_context(succ, out_height) else D

    def targets(self, start: int, height: int) -> frozenset[int] | None:
        """The destinations of a known-height version's non-static jump, if resolved."""
        return self.facts.targets.get((start, height))

    def name(self, start: int, mode: str, height: int) -> str:
        """The IR block name of a version: ``k<pc>`` for a block's first height,
        ``k<pc>_<height>`` for its others, ``d<pc>`` for the dynamic one."""
        if mode == D:
            return f"d{start:x}"
        heights = self.facts.heights.get(start)
        if heights and heights[0] != height:
            return f"k{start:x}_{height}"
        return f"k{start:x}"

    def known_versions(self) -> list[Context]:
        return [(s, h) for s, mode, h in self.versions if mode == K]


def _known_successors(prog: Program, plan: VersionPlan, start: int, h: int) -> list[Version]:
    blk = prog.blocks[start]
    if statically_halts(blk, h):
        return []
    out = h + blk.delta
    succs: list[int] = []
    if blk.exit in (Exit.JUMP, Exit.JUMPI):
        if blk.static_target is not None:
            succs = list(blk.successors)
        else:
            targets = plan.targets(start, h)
            if targets is None:
                plan.uses_jump_table = True
            else:
                succs = sorted(t for t in targets if t in prog.jumpdests)
            if blk.exit is Exit.JUMPI:
                succs.append(blk.end)
    else:
        succs = list(blk.successors)
    return [
        (s, K, out) if plan.mode_of_edge(s, out) == K else (s, D, 0) for s in dict.fromkeys(succs)
    ]


def plan_versions(prog: Program, facts: JumpFacts | None = None) -> VersionPlan:
    """Resolve jumps (unless ``facts`` are given), then list the reachable versions."""
    plan = VersionPlan(facts=facts if facts is not None else analyze_jumps(prog))
    seen: set[Version] = set()

    def walk(roots: list[Version]) -> None:
        stack = list(reversed(roots))
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            plan.versions.append(key)
            start, mode, h = key
            if mode == K:
                succs = _known_successors(prog, plan, start, h)
            else:
                blk = prog.blocks[start]
                if blk.exit in (Exit.JUMP, Exit.JUMPI) and blk.static_target is None:
                    plan.uses_jump_table = True
                succs = [(s, D, 0) for s in blk.successors]
            stack.extend(reversed(succs))

    walk([(0, K, 0)])
    if plan.uses_jump_table:
        walk([(j, D, 0) for j in sorted(prog.jumpdests)])
    return plan
