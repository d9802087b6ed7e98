"""The compiler pipeline from bytecode to verified IR, in one place."""

from __future__ import annotations

from eth_hash.auto import keccak

from evmkiln.codegen.evm.blocks import analyze
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.lowering.lower import lower_program


def function_name(code: bytes) -> str:
    return f"evm_{keccak(code).hex()[:16]}"


def lower_bytecode(code: bytes, *, name: str | None = None, check: bool = True) -> Function:
    """Analyse and lower ``code`` into an IR function, verified unless ``check`` is off."""
    function = lower_program(analyze(code), name or function_name(code))
    if check:
        verify(function)
    return function
