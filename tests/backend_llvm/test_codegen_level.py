"""The code generator's level follows the option level and, at levels 1-2, the function's size."""

from __future__ import annotations

import platform

import pytest

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.backend import LlvmBackend, instruction_count
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode

LIMIT = jit.OPTIMISING_CODEGEN_LIMIT


@pytest.mark.parametrize(
    ("opt_level", "size", "expected"),
    [
        (0, 10, 0),
        (1, 10, 2),
        (2, LIMIT, 2),
        (2, LIMIT + 1, 0),
        (3, LIMIT * 10, 3),
        (7, 10, 3),  # clamped like the pass pipelines
    ],
)
def test_codegen_level(opt_level: int, size: int, expected: int) -> None:
    assert jit.codegen_level(opt_level, size) == expected


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 assembly")
def test_a_small_loop_keeps_its_counter_in_registers() -> None:
    # PUSH1 100; JUMPDEST; PUSH1 1; SWAP1; SUB; DUP1; PUSH1 2; JUMPI; STOP
    function = lower_bytecode(bytes.fromhex("60645b600190038060025700"))
    assert instruction_count(function) < LIMIT
    backend = LlvmBackend()
    fast = backend.emit_asm(function, CompileOptions(opt_level=0))
    optimised = backend.emit_asm(function, CompileOptions(opt_level=2))
    # The fast code generator spills every value to the stack frame; -O2 allocates registers.
    assert optimised.count("(%rsp)") < fast.count("(%rsp)")
