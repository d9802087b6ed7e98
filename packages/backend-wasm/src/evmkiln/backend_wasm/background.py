"""The wasm backend's whole compile as one compiler-process job.

See :mod:`evmkiln.codegen.background`.

The job lowers the bytecode, translates and encodes the wasm module (the
translator's tier chosen by size, as :class:`~evmkiln.backend_wasm.backend.WasmExecutable`
does) and has Cranelift compile it; the serialized module comes back and the
caller deserializes it (tens of microseconds: the machine code is mapped,
nothing is compiled).  Fast-tier code tiers up later through
:func:`optimised_code`, which lowers the same bytecode again.  The compiler
process runs with the caller's memory mode
(:attr:`WasmBackend.compiler_env`), so its engines build code that the
caller's engines accept.
"""

from __future__ import annotations

import time

from evmkiln.backend_wasm.backend import FAST_TIER_INSTS
from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.leaf import function_runs_no_frames
from evmkiln.backend_wasm.runtime import compile_serialized
from evmkiln.backend_wasm.tiering import Relowered
from evmkiln.backend_wasm.translate import translate_for
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.background import CompiledCode, lower_timed
from evmkiln.codegen.gc_pause import gc_paused

JOB = "evmkiln.backend_wasm.background:compile_code"


def compile_code(code: bytes, fork: str, options: CompileOptions) -> CompiledCode:
    """Bytecode to a serialized wasmtime module (runs in a compiler process)."""
    phases: dict[str, float] = {}
    function = lower_timed(code, fork, phases)
    start = time.perf_counter()
    fast = function.instruction_count() >= FAST_TIER_INSTS
    with gc_paused():
        translation = translate_for(function, options, fast=fast)
        wasm = encode_module(translation.module)
    translated = time.perf_counter()
    serialized = compile_serialized(wasm, fast)
    phases["translate"] = translated - start
    phases["backend"] = time.perf_counter() - translated
    meta: dict[str, object] = {
        "fast": fast,
        "memory_base": translation.memory_base,
        "leaf": function_runs_no_frames(function),
    }
    if fast:  # for a later tier-up: this process lowers the code again (see .tiering)
        meta["relower"] = Relowered(code, fork)
        meta["options"] = options
    return CompiledCode(function.name, serialized, meta, phases)


def optimised_code(code: bytes, fork: str, options: CompileOptions) -> tuple[bytes, int]:
    """A tier-up's module: ``code`` lowered as :func:`compile_code` lowers it, translated
    and compiled by the optimising tier (serialized module, memory base)."""
    function = lower_timed(code, fork, {})
    with gc_paused():
        translation = translate_for(function, options)
        wasm = encode_module(translation.module)
    return compile_serialized(wasm, False), translation.memory_base
