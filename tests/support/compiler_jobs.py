"""Compile jobs that fail on purpose, for tests of the compiler process.

They run in the compiler process (tests/support is on its import path, like
the rest of the parent's ``sys.path``).
"""

from __future__ import annotations

import os
import time

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit


def abort(*_args: object) -> bytes:
    """What an LLVM assertion does: ``abort()``, SIGABRT."""
    os.abort()


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def allocate(size: int) -> int:
    """Touch ``size`` bytes; beyond the process's address-space limit this fails there."""
    return len(bytearray(size))


def pid() -> int:
    return os.getpid()


def new_gvn_object_code(ir_text: str, opt_level: int, codegen: int) -> bytes:
    """The level-2 pipeline as it was with NewGVN (which aborts on some real code)."""
    tm = jit.target_machine(0)
    module = llvm.parse_assembly(ir_text)
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=2))
    manager = llvm.create_new_module_pass_manager()
    for name in ("sroa", "instruction_combine", "simplify_cfg", "new_gvn"):
        getattr(manager, f"add_{name}_pass")()
    manager.run(module, builder)
    return bytes(jit.target_machine(codegen).emit_object(module))


def spin(seconds: float) -> int:
    """Compute for ``seconds`` of wall time (as much CPU time on an idle core)."""
    end = time.monotonic() + seconds
    turns = 0
    while time.monotonic() < end:
        turns += 1
    return turns


def slow_compile(code: bytes, fork: str, options: object) -> bytes:
    """A background compile job that never finishes in time (its CPU limit kills it)."""
    spin(60)
    return code


def failing_compile(code: bytes, fork: str, options: object) -> bytes:
    """A background compile job whose compiler fails (an exception in the compiler process)."""
    raise RuntimeError(f"cannot compile {len(code)} bytes for {fork}")


def nice_reporting_compile(code: bytes, fork: str, options: object) -> bytes:
    """A background compile job that fails with the compiler process's nice value."""
    raise RuntimeError(f"compiler nice {os.getpriority(os.PRIO_PROCESS, 0)}")
