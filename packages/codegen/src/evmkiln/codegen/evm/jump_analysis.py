"""Jump resolution: which destinations each JUMP/JUMPI can reach, by stack height.

Why: Solidity and Vyper call internal functions by pushing a return address
and jumping back through it, so almost every JUMP of real code takes its
target from deep in the stack, not from a PUSH right before it.  Sent
through the jump table, such a jump forces its destination (and everything
that destination reaches) into the dynamic form, with the stack in a memory
buffer.  This analysis abstractly interprets the stack so that a return jump
becomes a branch to one of the few addresses that can reach it.

Domain: each stack slot is a set of at most :data:`MAX_VALUES` constants, or
unknown (``None``).  The abstract state is kept per *context*, a block entered
at a given stack height: the whole stack is tracked (the heights a context
can have are at most :data:`MAX_HEIGHT`), so a jump's target is never below
what the state knows.  Keeping contexts apart by height costs little and
makes the analysis more precise than one state per block: a function called
from sites at different stack heights is analysed once per height, and its
return jump at each height only sees the return addresses pushed at that
height.  A block gets at most :data:`MAX_HEIGHTS_PER_BLOCK` contexts; an edge
to a further height, or to a height above :data:`MAX_HEIGHT`, *escapes*: the
analysis does not follow it (lowering sends it to the block's dynamic
version, which never relies on these facts).

Soundness rests on that split: facts are about the *analysed world*, the
executions that start at pc 0 with an empty stack and follow only direct
edges and resolved jumps between contexts.  Lowering uses them only in the
known-height versions, which are entered from nowhere else; whatever is
entered through the jump table or an escaping edge runs in a dynamic version
and resolves nothing.  A jump whose target is unknown at the fixpoint is
*unresolved*: it leaves the analysed world through the jump table.

Cost is bounded, since bytecode is untrusted: a context is re-analysed only
when its entry state grows; after :data:`WIDEN_AFTER` visits a slot that
still changes goes straight to unknown, so each context is visited a small
number of times; and the total work (instructions interpreted plus slots
joined) is capped at :data:`WORK_PER_INSTRUCTION` per instruction of the
code.  Past the cap the analysis starts over with every value unknown, which
resolves nothing and follows only the direct edges, in time linear in the
number of contexts.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from itertools import product

from evmkiln.codegen.evm.blocks import STACK_LIMIT, EvmBlock, Exit, Program
from evmkiln.codegen.evm.opcodes import Kind
from evmkiln.codegen.ir.semantics import BINARY, MASK, TERNARY, UNARY

MAX_VALUES = 16
"""Constants a slot can hold before it becomes unknown."""

MAX_TARGETS = 32
"""Destinations a jump can have over all the alternatives of its context (the
widest switch it lowers to) before it counts as unresolved: a shared helper
such as Solidity's memory allocator returns to a few dozen sites."""

MAX_HEIGHT = 64
"""Contexts are kept up to this entry height (the deepest stack passed as
block parameters)."""

MAX_HEIGHTS_PER_BLOCK = 32
"""Distinct entry heights analysed (and lowered as known-height versions) per block.

Solidity's shared helpers (checked arithmetic, ABI decoding, the free memory
pointer) are called at many stack heights: uniswap_v2_pair's at up to 23,
so that at 16 its further calls escaped to dynamic versions and the jump
table stayed; at 32 every jump of it resolves (700 known-height versions, no
jump table, 14% fewer IR instructions than the direct plan).  The work cap
bounds what more heights can cost on any code."""

MAX_ALTERNATIVES = 32
"""Distinct entry stacks kept apart per context before they are joined into one."""

WIDEN_AFTER = 4
"""Visits of a joined context after which a slot that still changes becomes unknown."""

WORK_PER_INSTRUCTION = 64
WORK_BASE = 16_384

Abs = frozenset[int] | None
"""An abstract slot: the constants it may hold, or ``None`` for unknown."""

Context = tuple[int, int]
"""A block start and an entry height."""


@dataclass(slots=True)
class JumpFacts:
    """What lowering may assume in the analysed world (see the module docstring)."""

    heights: dict[int, list[int]] = field(default_factory=dict)
    """Block start -> the entry heights analysed for it, in discovery order."""
    targets: dict[Context, frozenset[int]] = field(default_factory=dict)
    """Context -> every value its (non-static) jump may take as destination.

    Only resolved jumps appear; a value need not be a JUMPDEST (such a jump
    halts).  Contexts whose jump is unresolved are in :attr:`unresolved`."""
    unresolved: set[Context] = field(default_factory=set)
    complete: bool = True
    """False when the work cap was hit and nothing was resolved."""
    work: int = 0

    def has_context(self, start: int, height: int) -> bool:
        hs = self.heights.get(start)
        return hs is not None and height in hs


def statically_halts(blk: EvmBlock, height: int) -> bool:
    """Whether ``blk`` entered at ``height`` under- or overflows the stack."""
    return height < blk.min_height or height + blk.max_growth > STACK_LIMIT


class _WorkExceeded(Exception):
    pass


Stack = tuple[Abs, ...]


@dataclass(slots=True)
class _State:
    """The entry state of one context, kept apart by code-address pattern.

    Entry stacks whose slots hold the same code addresses (see
    :meth:`_Analysis.key`) are joined slot-wise into one alternative;
    stacks that differ in them stay apart, up to :data:`MAX_ALTERNATIVES`,
    past which everything is joined into one.
    """

    alternatives: dict[Stack, list[Abs]]
    pending: set[Stack]
    """Keys of the alternatives that changed since the context was last interpreted."""
    visits: dict[Stack, int] = field(default_factory=dict)
    collapsed: bool = False


_ALL: Stack = ()
"""The key of the one alternative of a collapsed context."""


def _order(key: Stack) -> tuple[tuple[int, ...], ...]:
    """A deterministic order of alternative keys (sets have none)."""
    return tuple(() if v is None else tuple(sorted(v)) for v in key)


class _Analysis:
    def __init__(
        self, prog: Program, track_values: bool, work_limit: int, max_heights: int
    ) -> None:
        self.prog = prog
        self.track = track_values
        self.max_heights = max_heights
        self.work_limit = work_limit
        self.facts = JumpFacts()
        self.states: dict[Context, _State] = {}
        self.queue: deque[Context] = deque()
        self.queued: set[Context] = set()
        self.singletons: dict[int, frozenset[int]] = {}
        self.found: dict[Context, set[int]] = {}
        self.keys: dict[Abs, Abs] = {None: None}

    def const(self, value: int) -> Abs:
        if not self.track:
            return None
        s = self.singletons.get(value)
        if s is None:
            s = self.singletons[value] = frozenset((value,))
        return s

    def run(self) -> JumpFacts:
        self.enter(0, ())
        while self.queue:
            ctx = self.queue.popleft()
            self.queued.discard(ctx)
            self.visit(ctx)
        for ctx, found in self.found.items():
            if ctx not in self.facts.unresolved:
                self.facts.targets[ctx] = frozenset(found)
        return self.facts

    # -- propagation ----------------------------------------------------------
    def key(self, stack: Stack) -> Stack:
        """The code addresses of ``stack``: slots whose values are all JUMPDESTs.

        Return addresses are what a context-insensitive join confuses: a
        function called from several sites would return to each of them with
        the deeper stack of all of them, losing the return addresses of the
        callers' own callers.  Keeping stacks apart by their code addresses
        keeps each chain of pending returns exact, while data values (which
        vary far more) are joined.
        """
        keys = self.keys
        out: list[Abs] = []
        for v in stack:
            k = keys[v] if v in keys else self.code_part(v)
            out.append(k)
        return tuple(out)

    def code_part(self, v: Abs) -> Abs:
        k = v if v is not None and v <= self.prog.jumpdests else None
        self.keys[v] = k
        return k

    def enter(self, start: int, stack: Stack) -> None:
        """Join ``stack`` into the entry state of (start, its height), queueing any change."""
        height = len(stack)
        if height > MAX_HEIGHT:
            return  # escapes: the edge goes to the dynamic version
        ctx = (start, height)
        state = self.states.get(ctx)
        if state is None:
            heights = self.facts.heights.setdefault(start, [])
            if len(heights) >= self.max_heights:
                return  # escapes
            heights.append(height)
            key = self.key(stack)
            self.states[ctx] = _State({key: list(stack)}, {key})
            self.charge(height)
            self.push(ctx)
            return
        self.charge(2 * height)
        key = _ALL if state.collapsed else self.key(stack)
        alt = state.alternatives.get(key)
        if alt is not None:
            if self.join(alt, stack, widen=state.visits.get(key, 0) >= WIDEN_AFTER):
                state.pending.add(key)
                self.push(ctx)
            return
        if len(state.alternatives) < MAX_ALTERNATIVES:
            state.alternatives[key] = list(stack)
        else:  # too many: keep only their join from now on
            self.charge(height * len(state.alternatives))
            joined = list(stack)
            for other in state.alternatives.values():
                self.join(joined, tuple(other), widen=False)
            state.alternatives = {_ALL: joined}
            state.visits = {}
            state.pending = set()
            state.collapsed = True
            key = _ALL
        state.pending.add(key)
        self.push(ctx)

    @staticmethod
    def join(into: list[Abs], stack: Stack, widen: bool) -> bool:
        """Join ``stack`` slot-wise into ``into``; whether it changed."""
        changed = False
        for i, new in enumerate(stack):
            old = into[i]
            if old is None or old is new:
                continue
            if new is None:
                into[i] = None
            elif new <= old:
                continue
            elif widen:
                into[i] = None
            else:
                union = old | new
                into[i] = union if len(union) <= MAX_VALUES else None
            changed = True
        return changed

    def push(self, ctx: Context) -> None:
        if ctx not in self.queued:
            self.queued.add(ctx)
            self.queue.append(ctx)

    def charge(self, amount: int) -> None:
        self.facts.work += amount
        if self.facts.work > self.work_limit:
            raise _WorkExceeded

    # -- one context ------------------------------------------------------------
    def visit(self, ctx: Context) -> None:
        start, height = ctx
        blk = self.prog.blocks[start]
        state = self.states[ctx]
        pending, state.pending = state.pending, set()
        if statically_halts(blk, height):
            return
        for key in sorted(pending, key=_order):
            state.visits[key] = state.visits.get(key, 0) + 1
            self.charge(len(blk.instrs) + height)
            self.step(ctx, blk, tuple(state.alternatives[key]))

    def step(self, ctx: Context, blk: EvmBlock, entry: Stack) -> None:
        """Interpret one alternative of ``ctx`` and propagate its exit stack."""
        if self.track:
            stack = list(entry)
            target = self.interpret(blk, stack)
            out = tuple(stack)
        else:  # every value unknown: only the height changes, by the block's net effect
            target = None
            out = (None,) * (len(entry) + blk.delta)
        if blk.exit is Exit.FALLTHROUGH:
            self.enter(blk.end, out)
            return
        if blk.exit not in (Exit.JUMP, Exit.JUMPI):
            return
        if blk.static_target is not None:
            if not blk.invalid_static_target:
                self.enter(blk.static_target, out)
        elif target is None or ctx in self.facts.unresolved:
            self.facts.unresolved.add(ctx)
        else:
            found = self.found.setdefault(ctx, set())
            found |= target
            if len(found) > MAX_TARGETS:
                self.facts.unresolved.add(ctx)
            else:
                for dest in sorted(target):
                    if dest in self.prog.jumpdests:
                        self.enter(dest, out)
        if blk.exit is Exit.JUMPI:
            self.enter(blk.end, out)

    def interpret(self, blk: EvmBlock, stack: list[Abs]) -> Abs:
        """Run ``blk`` on ``stack`` (which is left as at its exit); return a jump's target."""
        for ins in blk.instrs:
            info = ins.info
            if info is None:
                return None
            k = info.kind
            if k is Kind.PUSH:
                stack.append(self.const(ins.immediate))
            elif k is Kind.DUP:
                stack.append(stack[-info.pops])
            elif k is Kind.SWAP:
                n = info.pops
                stack[-1], stack[-n] = stack[-n], stack[-1]
            elif k is Kind.POP or k is Kind.JUMPDEST:
                if k is Kind.POP:
                    stack.pop()
            elif k is Kind.JUMP:
                return stack.pop()
            elif k is Kind.JUMPI:
                target = stack.pop()
                stack.pop()
                return target
            elif k is Kind.PURE:
                args = stack[-info.pops :]
                del stack[-info.pops :]
                args.reverse()  # the top of the stack is the first operand
                stack.append(self.fold(info.ir_op, args))
            elif ins.op == 0x58:  # PC
                stack.append(self.const(ins.pc))
            elif ins.op == 0x38:  # CODESIZE
                stack.append(self.const(len(self.prog.code)))
            else:
                if info.pops:
                    del stack[-info.pops :]
                stack.extend([None] * info.pushes)
        return None

    def fold(self, op: str, args: list[Abs]) -> Abs:
        """Every result of ``op`` over the operands' values, if few enough."""
        count = 1
        for a in args:
            if a is None:
                return None
            count *= len(a)
        if count > MAX_VALUES:
            return None
        results: set[int] = set()
        for combo in product(*[sorted(a) for a in args if a is not None]):
            if len(combo) == 2:
                r = BINARY[op](combo[0], combo[1])
            elif len(combo) == 3:
                r = TERNARY[op](combo[0], combo[1], combo[2])
            else:
                r = UNARY[op](combo[0])
            results.add(r & MASK)
        return frozenset(results)


def analyze_jumps(prog: Program) -> JumpFacts:
    """Resolve ``prog``'s jumps by abstract interpretation, within the work cap.

    Past the cap, returns :func:`direct_contexts` with one height per block
    instead: code that costs that much to analyse is hostile or huge, and
    gets the cheapest plan.
    """
    limit = WORK_BASE + WORK_PER_INSTRUCTION * len(prog.instrs)
    try:
        return _Analysis(prog, True, limit, MAX_HEIGHTS_PER_BLOCK).run()
    except _WorkExceeded:
        return direct_contexts(prog, max_heights=1)


def direct_contexts(prog: Program, max_heights: int = MAX_HEIGHTS_PER_BLOCK) -> JumpFacts:
    """The contexts reached along direct edges only: every value unknown, nothing resolved.

    Unknown values never change a state, so each context is visited once, and
    a visit does not interpret the block: the exit height is the entry height
    plus the block's net effect.  The work is at most the number of blocks
    times ``max_heights`` times the stack height, with no cap needed.
    ``complete`` is false.
    """
    facts = _Analysis(prog, False, sys.maxsize, max_heights).run()
    facts.complete = False
    return facts
