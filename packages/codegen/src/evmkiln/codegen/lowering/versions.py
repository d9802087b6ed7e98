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

Two plans are made for a code (:func:`choose_plan`): the *resolved* plan,
from the contexts jump resolution found, and the *direct* plan
(:func:`direct_plan`), one known height per block along direct edges and
every other jump through the jump table.  The resolved plan is kept when it
pays (see :data:`GROWTH_WITHOUT_DYNAMIC`), the direct plan used otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evmkiln.codegen.evm.blocks import Exit, Program
from evmkiln.codegen.evm.jump_analysis import (
    MAX_HEIGHT,
    Context,
    JumpFacts,
    analyze_jumps,
    direct_contexts,
    statically_halts,
)

KNOWN_HEIGHT_LIMIT = MAX_HEIGHT
"""Deeper stacks are passed through the stack buffer rather than as parameters."""

K = "K"
D = "D"

Version = tuple[int, str, int]
"""(block start, mode, entry height); the height of a dynamic version is 0."""

__all__ = [
    "DIRECT",
    "GROWTH_WITHOUT_DYNAMIC",
    "GROWTH_WITH_DYNAMIC",
    "KNOWN_HEIGHT_LIMIT",
    "RESOLVED",
    "D",
    "K",
    "PlanChoice",
    "Version",
    "VersionPlan",
    "choose_plan",
    "direct_plan",
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

    def dynamic_count(self) -> int:
        """The dynamic versions: those of the jump table and what escaped the analysis."""
        return sum(1 for _, mode, _ in self.versions if mode == D)


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


def direct_plan(prog: Program) -> VersionPlan:
    """The plan without jump resolution: one known height per block, reached along
    direct edges; every other jump goes through the jump table."""
    return plan_versions(prog, direct_contexts(prog, max_heights=1))


GROWTH_WITHOUT_DYNAMIC = 1.5
"""How many times the direct plan's versions a resolved plan may have when it has
no dynamic version (every reachable jump resolved, no jump table).

Such a plan removes the jump table and the dynamic versions, and keeps every
stack slot in SSA values across blocks.  On the bench contracts where every
jump resolves (erc20_transfer, fiat_token, weth, airdrop, usdc_proxy,
hash_10k) it has 0.63-1.20 times the direct plan's versions and gives an IR
smaller or slightly larger than the direct plan's.  The margin lets a
function called at a few stack heights be lowered once per height, while
bounding how far the copies can grow the IR."""

GROWTH_WITH_DYNAMIC = 1.0
"""The same bound for a resolved plan that keeps some dynamic versions: it may
not be larger than the direct plan.

When a helper is called at more than
:data:`~evmkiln.codegen.evm.jump_analysis.MAX_HEIGHTS_PER_BLOCK` stack heights,
its further calls escape to the dynamic version, whose return is unresolved:
the jump table and every dynamic version stay, and the known-height versions
come on top.  On snailtracer and uniswap_v2_pair that took the blocks from 598
to 1,178 and from 616 to 1,131 (1.8 times the direct plan's versions), LLVM's
compile time up by 65-75%, wasm's by 2.2-2.7 times, and snailtracer ran 30%
slower on wasm (20% faster on LLVM).  Such a plan is kept only when it costs
no more versions than the direct plan."""

RESOLVED = "resolved"
DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class PlanChoice:
    """The plan lowering follows, which of the two it is, and why."""

    plan: VersionPlan
    kind: str
    """:data:`RESOLVED` or :data:`DIRECT`."""
    reason: str
    resolved_versions: int
    """Versions of the resolved plan (when analysis hit its work cap: of the
    direct plan it fell back to)."""
    direct_versions: int

    def __str__(self) -> str:
        return f"{self.kind} plan: {self.reason}"

    def over_budget(self, prog: Program) -> PlanChoice:
        """The direct plan, for a resolved plan over the compile budget."""
        why = f"the resolved plan ({self.resolved_versions} versions) is over the compile budget"
        return PlanChoice(
            direct_plan(prog), DIRECT, why, self.resolved_versions, self.direct_versions
        )


def choose_plan(prog: Program) -> PlanChoice:
    """Resolve ``prog``'s jumps and keep the resolved plan if it pays, else plan directly.

    The resolved plan is kept when its versions are at most
    :data:`GROWTH_WITHOUT_DYNAMIC` times the direct plan's and it has no
    dynamic version, or at most :data:`GROWTH_WITH_DYNAMIC` times the direct
    plan's in any case.  (Making the direct plan costs a few percent of
    lowering: no instruction is interpreted.)
    """
    resolved = plan_versions(prog)
    n = len(resolved.versions)
    if not resolved.facts.complete:  # over the work cap: already the direct plan
        return PlanChoice(resolved, DIRECT, "jump analysis over its work cap", n, n)
    direct = direct_plan(prog)
    d = len(direct.versions)
    dynamic = resolved.dynamic_count()
    growth = n / d
    if dynamic == 0 and n <= GROWTH_WITHOUT_DYNAMIC * d:
        why = f"every jump resolved, {n} versions ({growth:.2f}x the direct plan's {d})"
        return PlanChoice(resolved, RESOLVED, why, n, d)
    if n <= GROWTH_WITH_DYNAMIC * d:
        why = f"{n} versions ({dynamic} dynamic), no more than the direct plan's {d}"
        return PlanChoice(resolved, RESOLVED, why, n, d)
    if dynamic:
        why = (
            f"the resolved plan keeps {dynamic} dynamic versions and has {n} versions, "
            f"{growth:.2f}x the direct plan's {d}"
        )
    else:
        why = f"the resolved plan has {n} versions, {growth:.2f}x the direct plan's {d}"
    return PlanChoice(direct, DIRECT, why, n, d)
