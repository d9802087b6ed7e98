"""LLVM types used by the translator, and the IR-type to LLVM-type mapping.

EVM words stay ``i256`` all the way down: LLVM legalises wide integers into
register pairs and open-coded division loops, which is what a hand-written
runtime would do anyway, and it keeps the generated IR readable.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from evmkiln.codegen.ir.types import Type

I1: Any = ir.IntType(1)
I8: Any = ir.IntType(8)
I32: Any = ir.IntType(32)
I64: Any = ir.IntType(64)
I256: Any = ir.IntType(256)
I512: Any = ir.IntType(512)
PTR: Any = ir.PointerType()

LLVM_TYPE: dict[Type, Any] = {Type.I1: I1, Type.I64: I64, Type.I256: I256}


def const(ty: Any, value: int) -> Any:
    """An integer constant of ``ty``, wrapped to its width."""
    return ir.Constant(ty, value & ((1 << ty.width) - 1))
