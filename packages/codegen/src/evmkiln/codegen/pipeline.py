"""The compiler pipeline from bytecode to verified IR, in one place."""

from __future__ import annotations

from eth_hash.auto import keccak

from evmkiln.codegen.evm.blocks import analyze
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.lowering.lower import lower_program
from evmkiln.codegen.passes import run_passes


def function_name(code: bytes) -> str:
    return f"evm_{keccak(code).hex()[:16]}"


def lower_bytecode(
    code: bytes, *, name: str | None = None, check: bool = True, opt_level: int = 1
) -> Function:
    """Analyse and lower ``code`` into an IR function, run the level's passes, verify.

    The verifier runs after lowering and after the passes unless ``check`` is off.
    """
    function = lower_program(analyze(code), name or function_name(code))
    if check:
        verify(function)
    if opt_level > 0:
        run_passes(function, opt_level)
        if check:
            verify(function)
    return function
