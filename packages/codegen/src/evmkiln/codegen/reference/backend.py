"""The reference backend and its executable."""

from __future__ import annotations

from evmkiln.builtins.frame import Frame
from evmkiln.codegen.backend import BackendCapabilities, CompileOptions, ExitKind
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.reference.closures import (
    STACK_LIMIT,
    CBlock,
    FrameExit,
    compile_inst,
    compile_term,
)


class ReferenceExecutable:
    """An IR function prepared for interpretation."""

    def __init__(self, function: Function, options: CompileOptions) -> None:
        self.name = function.name
        self.register_count = function.next_value
        blocks = {b.name: CBlock(b.name) for b in function.blocks}
        jump_table = {pc: blocks[b.name] for pc, b in function.jump_table.items()}
        jump_params = {blocks[b.name]: b.params[0].id for b in function.jump_table.values()}
        for b in function.blocks:
            cb = blocks[b.name]
            cb.ops = tuple(compile_inst(i, options.gas_metering) for i in b.insts)
            assert b.term is not None
            cb.term = compile_term(b.term, blocks, jump_table, jump_params)
        self.entry = blocks[function.entry.name]

    def run(self, frame: Frame) -> ExitKind:
        r: list[object] = [None] * self.register_count
        buf = [0] * STACK_LIMIT
        blk = self.entry
        try:
            while True:
                for op in blk.ops:
                    op(r, frame, buf)
                blk = blk.term(r, frame, buf)
        except FrameExit as done:
            return done.kind


class ReferenceBackend:
    """Interprets IR in Python: the semantics every other backend must match."""

    name = "ir"

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(jit=True, aot=False, gas_metering_off=True, native=False)

    def compile(
        self, function: Function, options: CompileOptions | None = None
    ) -> ReferenceExecutable:
        return ReferenceExecutable(function, options or CompileOptions())
