"""Replace blocks that do exactly what another block does by that block.

Why: Solidity and Vyper emit the same tail many times over (``revert(0,
0)`` after each failed check, the same panic for every overflow, one
``return`` sequence per external function), and jump resolution makes a
version of a shared block per way in.  Each copy is code the backend
compiles and the instruction cache holds.  revmc deduplicates such blocks
before emitting code.

Two blocks are the same when their parameter types, their instructions
(opcode, immediates, operands and result types) and their terminators,
targets included, are equal once each block's values are numbered in the
order the block defines them (values are block-local, see
:mod:`evmkiln.codegen.ir.function`).  Every edge into a duplicate then goes
to the first block with its shape, with the same arguments.  A block's shape
names its targets, so merging two successors can make their predecessors
equal: the pass repeats while it finds duplicates, a bounded number of
rounds, each after the first looking only at the blocks whose targets
changed.  The entry block and jump-table
destinations stay where they are (the backends' calling conventions name
them).  The instructions' bytecode positions do not take part: no backend
reads them.
"""

from __future__ import annotations

from collections.abc import Hashable

from evmkiln.codegen.ir.function import Block, Function, Value

MAX_ROUNDS = 8
"""Rounds of merging; a chain of duplicates longer than this keeps its head.  Each
round after the first looks only at the blocks whose targets the last one changed."""


def _shape(block: Block) -> Hashable:
    numbers: dict[int, int] = {}
    for param in block.params:
        numbers[param.id] = len(numbers)

    def numbered(values: list[Value]) -> tuple[int, ...]:
        # A value defined elsewhere would break the block-local rule; keep such a block apart.
        return tuple(numbers.get(v.id, -1 - v.id) for v in values)

    parts: list[Hashable] = [tuple(p.type for p in block.params)]
    for inst in block.insts:
        parts.append(
            (inst.opcode, inst.imms, numbered(inst.args), tuple(r.type for r in inst.results))
        )
        for result in inst.results:
            numbers[result.id] = len(numbers)
    term = block.term
    if term is not None:
        targets = tuple((id(call.block), numbered(call.args)) for call in term.targets)
        parts.append((term.opcode, term.imms, numbered(term.args), targets))
    return tuple(parts)


class DeduplicateBlocks:
    name = "deduplicate_blocks"

    def run_pass(self, function: Function) -> bool:
        fixed = {id(function.entry), *(id(b) for b in function.jump_table.values())}
        shapes: dict[int, Hashable] = {}
        first: dict[Hashable, Block] = {}
        replaced: dict[int, Block] = {}
        for block in function.blocks:
            if id(block) in fixed:
                continue
            shape = shapes[id(block)] = _shape(block)
            kept = first.setdefault(shape, block)
            if kept is not block:
                replaced[id(block)] = kept
        changed = False
        for _ in range(MAX_ROUNDS):
            if not replaced:
                break
            changed = True
            touched: list[Block] = []
            for block in function.blocks:
                if block.term is None or id(block) in replaced:
                    continue
                redirected = False
                for call in block.term.targets:
                    target = replaced.get(id(call.block))
                    if target is not None:
                        call.block = target
                        redirected = True
                if redirected and id(block) not in fixed:
                    touched.append(block)
            function.blocks = [b for b in function.blocks if id(b) not in replaced]
            # Only the blocks whose targets changed can have become equal to another.
            replaced = {}
            for block in touched:
                old = shapes[id(block)]
                if first.get(old) is block:
                    del first[old]
                shape = shapes[id(block)] = _shape(block)
                kept = first.setdefault(shape, block)
                if kept is not block:
                    replaced[id(block)] = kept
        return changed
