"""Checks that a function is well formed before any backend sees it.

Backends may assume everything checked here; lowering bugs surface as a
:class:`VerifierError` naming the block and instruction instead of as
miscompiled code.
"""

from __future__ import annotations

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.ir.function import Block, Function, Inst
from evmkiln.codegen.ir.opcodes import INSTS
from evmkiln.codegen.ir.printer import format_inst
from evmkiln.codegen.ir.types import TYPE_BY_NAME, Type


class VerifierError(Exception):
    """The IR is malformed; the message names the block and instruction."""


def _expected_types(inst: Inst) -> tuple[tuple[Type, ...], tuple[Type, ...]]:
    d = INSTS[inst.opcode]
    if inst.opcode == "call":
        sig = BUILTINS.get(str(inst.imms[0]) if inst.imms else "")
        if sig is None:
            raise ValueError(f"unknown builtin {inst.imms[0] if inst.imms else '?'}")
        return (
            tuple(TYPE_BY_NAME[t] for t in sig.params),
            tuple(TYPE_BY_NAME[t] for t in sig.results),
        )
    return d.args, d.results


def verify(function: Function) -> None:
    """Raise :class:`VerifierError` on the first problem found."""
    if not function.blocks:
        raise VerifierError(f"{function.name}: no blocks")
    names: set[str] = set()
    blocks = set(function.blocks)
    defined_anywhere: set[int] = set()
    for block in function.blocks:
        if block.name in names:
            raise VerifierError(f"{block}: duplicate block name")
        names.add(block.name)
    for pc, target in function.jump_table.items():
        if target not in blocks:
            raise VerifierError(f"jumptable {pc:#x}: {target} is not in the function")
        if [p.type for p in target.params] != [Type.I64]:
            raise VerifierError(f"jumptable {pc:#x}: {target} must take exactly (sp: i64)")
    for block in function.blocks:
        _verify_block(function, block, blocks, defined_anywhere)


def _fail(block: Block, inst: Inst | None, msg: str) -> VerifierError:
    where = f"{block}: {format_inst(inst)}" if inst is not None else f"{block}"
    return VerifierError(f"{where}: {msg}")


def _verify_block(
    function: Function, block: Block, blocks: set[Block], defined_anywhere: set[int]
) -> None:
    # The hot loop of every compile: membership tests inline, no per-value calls.
    local: set[int] = set()
    for p in block.params:
        if p.id in defined_anywhere:
            raise _fail(block, None, f"{p} is defined more than once")
        defined_anywhere.add(p.id)
        local.add(p.id)
    term = block.term
    if term is None:
        raise _fail(block, None, "block has no terminator")
    insts = block.insts
    last = len(insts)
    for i in range(last + 1):
        inst = insts[i] if i < last else term
        opcode = inst.opcode
        d = INSTS.get(opcode)
        if d is None:
            raise _fail(block, inst, "unknown instruction")
        if d.terminator != (i == last):
            raise _fail(block, inst, "terminator in the middle of a block or missing at its end")
        if len(inst.imms) != len(d.imms):
            raise _fail(block, inst, f"expected {len(d.imms)} immediates, got {len(inst.imms)}")
        for v in inst.args:
            if v.id not in local:
                raise _fail(block, inst, f"{v} is not defined in this block before its use")
        if opcode == "jump" or opcode == "brif":
            want_targets = 1 if opcode == "jump" else 2
            if len(inst.targets) != want_targets:
                raise _fail(block, inst, f"expected {want_targets} targets")
            if opcode == "brif" and (len(inst.args) != 1 or inst.args[0].type is not Type.I1):
                raise _fail(block, inst, "brif takes one i1 condition")
            for t in inst.targets:
                if t.block not in blocks:
                    raise _fail(block, inst, f"target {t.block} is not in the function")
                if [a.type for a in t.args] != [p.type for p in t.block.params]:
                    raise _fail(block, inst, f"arguments do not match the parameters of {t.block}")
                for a in t.args:
                    if a.id not in local:
                        raise _fail(block, inst, f"{a} is not defined in this block before its use")
        else:
            if opcode == "call":
                try:
                    args, results = _expected_types(inst)
                except ValueError as exc:
                    raise _fail(block, inst, str(exc)) from None
            else:
                args, results = d.args, d.results
            if tuple([a.type for a in inst.args]) != args:
                want = ", ".join(str(t) for t in args)
                raise _fail(block, inst, f"operand types must be ({want})")
            if tuple([r.type for r in inst.results]) != results:
                raise _fail(block, inst, "result types do not match the instruction")
            if inst.targets:
                raise _fail(block, inst, "only jump and brif have block targets")
        for r in inst.results:
            if r.id in defined_anywhere:
                raise _fail(block, inst, f"{r} is defined more than once")
            defined_anywhere.add(r.id)
            local.add(r.id)
