"""Replace block parameters that every edge passes the same constant by that constant.

Why: lowering passes the whole EVM stack along every edge of a known-height
block, so a constant pushed in one block (a return address, an ABI offset, a
mask) travels as a parameter through every block until it is used.  With
jumps resolved, most such parameters receive one and the same constant on
every edge: 10-40% of the parameters of the bench contracts lowered on the
resolved plan.  Each costs a phi per block in every backend, and hides the
constant from the folding of the instructions that use it
(:mod:`~evmkiln.codegen.passes.constant_folding`).

The analysis is optimistic (Wegman and Zadeck's lattice, restricted to block
parameters): a parameter starts unknown, meets each incoming argument (a
constant defined in the predecessor, or the predecessor's own parameter),
and ends as one constant or as varying.  Parameters of blocks entered from
outside the function (the entry block, the jump table's blocks) always vary.
Work is linear in the edges: a parameter changes at most twice.
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Function, Inst, Value
from evmkiln.codegen.ir.rewrite import drop_arguments, replace_uses

_Const = tuple[str, int]
"""A constant as (its ``const.*`` opcode, its value)."""

_VARIES = ("", -1)
"""The lattice's bottom: not one constant."""


def _constants(function: Function) -> dict[int, _Const]:
    """Every value a ``const.*`` instruction defines, by id."""
    found: dict[int, _Const] = {}
    for block in function.blocks:
        for inst in block.insts:
            if inst.opcode.startswith("const."):
                value = inst.imms[0]
                assert isinstance(value, int)
                found[inst.results[0].id] = (inst.opcode, value)
    return found


class ConstantParams:
    name = "constant_params"

    def run_pass(self, function: Function) -> bool:
        constants = _constants(function)
        external = {id(function.entry), *(id(b) for b in function.jump_table.values())}
        # Parameter id -> its lattice value: absent while unknown (top).
        state: dict[int, _Const] = {}
        # Parameter id -> the parameters it is passed on to, one entry per edge.
        passed_to: dict[int, list[int]] = {}
        changed: list[int] = []

        def meet(param: int, value: _Const) -> None:
            old = state.get(param)
            if old is _VARIES or old == value:
                return
            state[param] = value if old is None else _VARIES
            changed.append(param)

        for block in function.blocks:
            if id(block) in external:
                for p in block.params:
                    meet(p.id, _VARIES)
        for block in function.blocks:
            term = block.term
            if term is None:
                continue
            own = {p.id for p in block.params}
            for call in term.targets:
                for param, arg in zip(call.block.params, call.args, strict=True):
                    constant = constants.get(arg.id)
                    if constant is not None:
                        meet(param.id, constant)
                    elif arg.id in own:
                        passed_to.setdefault(arg.id, []).append(param.id)
                    else:  # computed in the predecessor
                        meet(param.id, _VARIES)
        # Each parameter changes at most twice (unknown -> constant -> varying), and
        # each change is passed along its edges once: linear in the edges.
        while changed:
            source = changed.pop()
            value = state[source]
            for user in passed_to.get(source, ()):
                meet(user, value)
        return _replace(function, state)


def _replace(function: Function, state: dict[int, _Const]) -> bool:
    """Turn every parameter found constant into a constant at the start of its block."""
    removed: dict[int, list[int]] = {}
    """Block id -> indexes of the parameters removed from it."""
    for block in function.blocks:
        substitute: dict[int, Value] = {}
        defined: list[Inst] = []
        kept: list[Value] = []
        gone: list[int] = []
        for index, param in enumerate(block.params):
            found = state.get(param.id)
            if found is None or found is _VARIES:
                kept.append(param)
                continue
            opcode, value = found
            fresh = function.new_value(param.type)
            defined.append(Inst(opcode, [], [fresh], (value,), pc=block.pc))
            substitute[param.id] = fresh
            gone.append(index)
        if not gone:
            continue
        block.params = kept
        block.insts[:0] = defined
        replace_uses(block, substitute)
        removed[id(block)] = gone
    if not removed:
        return False
    drop_arguments(function, {block: set(gone) for block, gone in removed.items()})
    return True
