"""evmkiln's SSA IR: typed values, blocks with parameters, one declared instruction table."""

from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value
from evmkiln.codegen.ir.types import Type

__all__ = ["Block", "BlockCall", "Function", "Inst", "Type", "Value"]
