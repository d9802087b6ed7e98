"""LLVM in process: target machine, optimisation pipeline, MCJIT compilation.

llvmlite 0.50 exposes LLVM's new pass manager (``create_pass_builder`` with
``PipelineTuningOptions``); ``opt_level`` selects the O0..O3 module pipeline
and the code generator's optimisation level alike.  Each compiled function
gets its own MCJIT engine so that its machine code lives exactly as long as
the executable that holds the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm

_lock = threading.RLock()
_initialised = False
_machines: dict[int, Any] = {}


def _init() -> None:
    global _initialised
    with _lock:
        if not _initialised:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialised = True


def _level(opt_level: int) -> int:
    return max(0, min(3, opt_level))


def _new_target_machine(level: int) -> Any:
    _init()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=level,
        jit=True,
    )


def target_machine(opt_level: int) -> Any:
    """The host's target machine for ``opt_level``, for passes and assembly (cached).

    Never hand this one to MCJIT: an execution engine takes ownership of its
    target machine and deletes it with the engine.
    """
    level = _level(opt_level)
    with _lock:
        tm = _machines.get(level)
        if tm is None:
            tm = _machines[level] = _new_target_machine(level)
        return tm


def parse(ir_text: str, opt_level: int) -> Any:
    """Parse, verify and optimise textual LLVM IR into a module for the host."""
    tm = target_machine(opt_level)
    module = llvm.parse_assembly(ir_text)
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    level = _level(opt_level)
    if level > 0:
        tuning = llvm.create_pipeline_tuning_options(speed_level=level)
        builder = llvm.create_pass_builder(tm, tuning)
        builder.getModulePassManager().run(module, builder)
    return module


@dataclass(slots=True)
class Compiled:
    """Machine code of one module and the engine that owns it."""

    engine: Any
    address: int


def compile_module(module: Any, name: str, opt_level: int) -> Compiled:
    """JIT ``module`` (from :func:`parse`) and return the address of ``name``."""
    # The engine owns (and will delete) this target machine: a fresh one each time.
    engine = llvm.create_mcjit_compiler(module, _new_target_machine(_level(opt_level)))
    engine.finalize_object()
    address = int(engine.get_function_address(name))
    if not address:
        raise RuntimeError(f"JIT did not produce {name}")
    return Compiled(engine, address)


def assembly(module: Any, opt_level: int) -> str:
    """Host assembly for an optimised module."""
    return str(target_machine(opt_level).emit_assembly(module))
