"""Appending instructions to a block, with result values typed from the tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value
from evmkiln.codegen.ir.opcodes import INSTS
from evmkiln.codegen.ir.types import TYPE_BY_NAME, Type

_CONSTS = {ty: (f"const.{ty}", (1 << ty.bits) - 1) for ty in Type}
"""Type -> (its constant instruction, its value mask): ``const`` runs for every PUSH."""


class Builder:
    """Builds instructions at the end of one block at a time."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self.block: Block | None = None
        self.pc = -1

    def at(self, block: Block) -> None:
        self.block = block

    @contextmanager
    def building(self, block: Block) -> Iterator[None]:
        """Append to ``block`` for the duration, then return to the current block.

        Lowering creates side blocks (trampolines, shared exits) in the middle
        of translating another block.
        """
        saved = self.block
        self.block = block
        try:
            yield
        finally:
            self.block = saved

    def _append(self, inst: Inst) -> Inst:
        block = self.block
        assert block is not None, "builder has no current block"
        assert block.term is None, f"{block} is already terminated"
        inst.pc = self.pc
        if INSTS[inst.opcode].terminator:
            block.term = inst
        else:
            block.insts.append(inst)
        return inst

    def op(self, opcode: str, *args: Value, imms: tuple[int | str, ...] = ()) -> Inst:
        """Append a non-variadic instruction; its results are typed by the table."""
        d = INSTS[opcode]
        results = [self.function.new_value(t) for t in d.results]
        return self._append(Inst(opcode, list(args), results, imms))

    def value(self, opcode: str, *args: Value, imms: tuple[int | str, ...] = ()) -> Value:
        """Append a one-result instruction and return its result."""
        return self.op(opcode, *args, imms=imms).results[0]

    def const(self, value: int, ty: Type = Type.I256) -> Value:
        opcode, mask = _CONSTS[ty]
        return self.value(opcode, imms=(value & mask,))

    def call(self, builtin: str, *args: Value) -> list[Value]:
        sig = BUILTINS[builtin]
        results = [self.function.new_value(TYPE_BY_NAME[t]) for t in sig.results]
        return self._append(Inst("call", list(args), results, (builtin,))).results

    def jump(self, target: Block, args: list[Value]) -> None:
        self._append(Inst("jump", [], targets=[BlockCall(target, args)]))

    def brif(
        self,
        cond: Value,
        then: Block,
        then_args: list[Value],
        other: Block,
        other_args: list[Value],
    ) -> None:
        self._append(
            Inst("brif", [cond], targets=[BlockCall(then, then_args), BlockCall(other, other_args)])
        )
