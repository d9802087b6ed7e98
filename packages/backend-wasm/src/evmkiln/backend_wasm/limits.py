"""Limits of wasmtime's validator and of the module layout that a translation must respect.

A module beyond them is refused by wasmtime only after it has been
translated and encoded (seconds and hundreds of MB for the largest), or, for
the jump table, not refused at all: block index ``NO_BLOCK`` reads as "no
destination" and would turn a valid jump into an invalid one.  So each is
checked as soon as it is known and raises
:class:`~evmkiln.codegen.budget.CompileBudgetExceeded`: the code is then
interpreted, like any code over its compile budget.
"""

from __future__ import annotations

from evmkiln.backend_wasm.layout import NO_BLOCK
from evmkiln.codegen.budget import CompileBudgetExceeded

MAX_FUNCTION_LOCALS = 50_000
"""wasmparser's limit on a function's locals (``MAX_WASM_FUNCTION_LOCALS``)."""
MAX_FUNCTION_BODY_BYTES = 7_654_321
"""wasmparser's limit on one function body (``MAX_WASM_FUNCTION_SIZE``)."""
MAX_BLOCKS = NO_BLOCK
"""Block indices are u16 jump-table entries, and ``NO_BLOCK`` itself is taken."""


def check_blocks(count: int, code_length: int) -> None:
    if count > MAX_BLOCKS:
        raise CompileBudgetExceeded("wasm dispatch blocks", count, MAX_BLOCKS, code_length)


def check_locals(count: int, code_length: int) -> None:
    if count > MAX_FUNCTION_LOCALS:
        raise CompileBudgetExceeded(
            "wasm locals in one function", count, MAX_FUNCTION_LOCALS, code_length
        )


def check_body(size: int) -> None:
    if size > MAX_FUNCTION_BODY_BYTES:
        raise CompileBudgetExceeded(
            "bytes of wasm function body", size, MAX_FUNCTION_BODY_BYTES, None
        )
