"""The LLVM backend's whole compile as one compiler-process job.

See :mod:`evmkiln.codegen.background`.

The job lowers the bytecode, translates it to LLVM IR, runs the level's pass
pipeline and the code generator its size calls for
(:func:`~evmkiln.backend_llvm.jit.codegen_level`), and returns the object
file; the caller links it (:func:`~evmkiln.backend_llvm.jit.load_object`,
about 2 ms for a 90 KB object).  When the fast code generator was chosen and
the backend tiers up, the LLVM IR text comes back too, so that the
backend's own tier-up (:mod:`.tiering`) can recompile a hot function with
the optimising one, as after an in-process compile.
"""

from __future__ import annotations

import time

from evmkiln.backend_llvm import jit
from evmkiln.backend_llvm.translate import translate
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.background import CompiledCode, lower_timed

JOB = "evmkiln.backend_llvm.background:compile_code"


def compile_code(code: bytes, fork: str, options: CompileOptions) -> CompiledCode:
    """Bytecode to an MCJIT object file (runs in a compiler process)."""
    phases: dict[str, float] = {}
    function = lower_timed(code, fork, phases)
    start = time.perf_counter()
    text = str(translate(function, options, shared_helpers=True))  # linked by load_compiled
    translated = time.perf_counter()
    size = sum(len(block.insts) for block in function.blocks)
    codegen = jit.codegen_level(options.opt_level, size)
    module = jit.parse(text, options.opt_level)
    optimised = time.perf_counter()
    obj = bytes(jit.target_machine(codegen).emit_object(module))
    done = time.perf_counter()
    phases["translate"] = translated - start
    phases["passes"] += optimised - translated
    phases["backend"] = done - optimised
    full = jit.codegen_level(options.opt_level, 0)
    meta: dict[str, object] = {"codegen": codegen, "opt_level": options.opt_level}
    if codegen < full:
        meta["ir_text"] = text  # for a later tier-up with the optimising code generator
    return CompiledCode(function.name, obj, meta, phases)
