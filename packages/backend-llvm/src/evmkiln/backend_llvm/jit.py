"""LLVM in process: target machine, optimisation pipeline, MCJIT compilation.

llvmlite 0.50 exposes LLVM's new pass manager.  ``opt_level`` picks one row of
:data:`PIPELINES` and :data:`CODEGEN_LEVEL`:

* 0 -- no IR passes, fast instruction selection;
* 1 -- SROA (gas and the memory borrow into registers), instcombine, simplifycfg;
* 2 (the default) -- the same plus GVN and dead-store elimination;
* 3 -- LLVM's own O3 module pipeline and the optimising code generator.

The code generator's level is what large contracts pay for: on fiat_token
(17k IR instructions) codegen at LLVM's -O1/-O2 costs several times the whole
O0 compile, and LLVM's O2 module pipeline another few seconds, for little
gain on code whose time goes to crossings and 256-bit arithmetic helpers.
Levels 0-2 therefore use the fast code generator, level 3 keeps everything.

Each compiled function gets its own MCJIT engine so that its machine code
lives exactly as long as the executable that holds the engine.
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


_CHEAP = ("sroa", "instruction_combine", "simplify_cfg")
PIPELINES: dict[int, tuple[str, ...] | None] = {
    0: (),
    1: _CHEAP,
    2: (*_CHEAP, "new_gvn", "dead_store_elimination", "simplify_cfg"),
    3: None,  # LLVM's O3 module pipeline
}
"""Function passes (``add_<name>_pass`` of llvmlite) per level; ``None`` is LLVM's own."""
CODEGEN_LEVEL: dict[int, int] = {0: 0, 1: 0, 2: 0, 3: 3}
"""The code generator's optimisation level per level."""


def _level(opt_level: int) -> int:
    return max(0, min(3, opt_level))


def _new_target_machine(level: int) -> Any:
    _init()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=CODEGEN_LEVEL[level],
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
    passes = PIPELINES[level]
    if passes is None or passes:
        tuning = llvm.create_pipeline_tuning_options(speed_level=min(level, 3))
        builder = llvm.create_pass_builder(tm, tuning)
        if passes is None:
            manager = builder.getModulePassManager()
        else:
            manager = llvm.create_new_module_pass_manager()
            for name in passes:
                getattr(manager, f"add_{name}_pass")()
        manager.run(module, builder)
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
