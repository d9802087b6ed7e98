"""LLVM in process: target machine, optimisation pipeline, MCJIT compilation.

llvmlite 0.50 exposes LLVM's new pass manager.  ``opt_level`` picks one row of
:data:`PIPELINES`; the code generator follows :func:`codegen_level`:

* 0 -- no IR passes, fast instruction selection;
* 1 -- SROA (gas and the memory borrow into registers), instcombine, simplifycfg;
* 2 (the default) -- the same plus dead-store elimination and a second simplifycfg;
* 3 -- LLVM's own O3 module pipeline and the optimising code generator.

The code generator's level is what large contracts pay for: its cost grows
faster than linearly with function size.  On fiat_token (14.5k evmkiln IR
instructions) LLVM's -O2 code generator takes 12.7 s against 2.8 s for the
fast one, for little gain on code whose time goes to crossings and 256-bit
arithmetic helpers.  On small functions the same code generator costs next to
nothing and is what makes loops fast: register allocation instead of a spill
around every instruction (fibonacci at 1M iterations: 17 ms with the fast
code generator, 1.3 ms with -O2, compile time unchanged at 14 ms).  Levels 1
and 2 therefore pick the code generator by size (:func:`codegen_level`);
level 0 always uses the fast one, level 3 always the optimising one.

Each compiled function gets its own MCJIT engine so that its machine code
lives exactly as long as the executable that holds the engine.

Two ways to get there.  In process, :func:`parse` then :func:`compile_module`.
Isolated (the backend's default), :func:`object_code` runs in a compiler
process (:mod:`evmkiln.codegen.compiler_process`) and returns an object file,
which :func:`load_object` links into an engine here: the passes and the code
generator, where LLVM's assertions and any crash would fire, never run in the
caller's process; only MCJIT's runtime linker does (about 2 ms for a 90 KB
object).
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
            # Inline assembly (x86-64's 128-by-64 division, see wordops) is parsed
            # by the target's assembler; without it LLVM aborts the process.
            llvm.initialize_native_asmparser()
            _initialised = True


_CHEAP = ("sroa", "instruction_combine", "simplify_cfg")
PIPELINES: dict[int, tuple[str, ...] | None] = {
    0: (),
    1: _CHEAP,
    2: (*_CHEAP, "dead_store_elimination", "simplify_cfg"),
    3: None,  # LLVM's O3 module pipeline
}
"""Function passes (``add_<name>_pass`` of llvmlite) per level; ``None`` is LLVM's own.

No value numbering: llvmlite's pass list offers only NewGVN, which LLVM does
not run by default, and which fails an internal assertion (``Seem to have
processed the same Value a lot``, process killed by SIGABRT) on real compiler
output: a 245-byte contract from Vyper's experimental code generator
(``tests/support/compiler_output.py``).  Without it the bench contracts run
within the noise of the NewGVN pipeline (medians of 9 runs, one process each:
fibonacci 1M 1.30 ms against 1.33 ms, factorial 89 us against 148 us,
erc20_transfer 32.2 ms against 33.2 ms) and compile faster (snailtracer's
passes 0.47 s against 1.22 s).  Level 3's O3 pipeline uses LLVM's classic GVN."""
OPTIMISING_CODEGEN_LIMIT = 2500
"""Largest function (evmkiln IR instructions) given LLVM's -O2 code generator at levels 1-2.

Measured on the bench contracts: up to erc20_transfer's 2,066 instructions
the optimising code generator at most doubles a compile that stays under a
second (and halves erc20_transfer's run time); from airdrop's 3,792 on it
costs seconds."""


def _level(opt_level: int) -> int:
    return max(0, min(3, opt_level))


def codegen_level(opt_level: int, size: int) -> int:
    """The code generator's optimisation level for a function of ``size`` IR instructions."""
    level = _level(opt_level)
    if level == 3:
        return 3
    if level == 0 or size > OPTIMISING_CODEGEN_LIMIT:
        return 0
    return 2


def _new_target_machine(codegen: int) -> Any:
    _init()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=codegen,
        jit=True,
    )


def target_machine(codegen: int) -> Any:
    """The host's target machine at code generator level ``codegen`` (cached).

    For passes and assembly.  Never hand this one to MCJIT: an execution
    engine takes ownership of its target machine and deletes it with the engine.
    """
    with _lock:
        tm = _machines.get(codegen)
        if tm is None:
            tm = _machines[codegen] = _new_target_machine(codegen)
        return tm


def parse(ir_text: str, opt_level: int, context: Any = None) -> Any:
    """Parse, verify and optimise textual LLVM IR into a module for the host.

    With a ``context`` (from ``llvm.create_context()``) the module lives in it
    and the passes get a target machine of their own: what a thread other
    than the compiling one needs, since neither LLVM's global context nor a
    target machine may be used by two threads at once.
    """
    # The passes need the target's data layout, not its codegen level.
    tm = target_machine(0) if context is None else _new_target_machine(0)
    module = llvm.parse_assembly(ir_text, context)
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


_CONTEXTS: dict[int, Any] = {}
"""The LLVM contexts of live :class:`Compiled` objects, by ``id``.

An engine's module lives in its context, so the context must be disposed
after the engine.  References alone do not guarantee that: when the garbage
collector frees a cycle that holds both (a cache entry that refers back to
its owner is enough), it runs their finalizers in no particular order, and
an engine disposed after its context frees the module twice (a segmentation
fault, seen in a long test run).  Held here, the context stays reachable
until :meth:`Compiled.__del__` has closed the engine itself."""


@dataclass(slots=True)
class Compiled:
    """Machine code of one module and the engine that owns it."""

    engine: Any
    address: int
    context: Any = None
    """The module's own LLVM context, if it has one: released after the engine."""

    def __post_init__(self) -> None:
        if self.context is not None:
            _CONTEXTS[id(self)] = self.context

    def __del__(self) -> None:
        engine, self.engine = self.engine, None
        if isinstance(engine, llvm.ExecutionEngine):  # not an AOT library's handle
            engine.close()  # idempotent: the collector may have finalized the engine already
        del engine
        if self.context is not None:
            self.context = None
            _CONTEXTS.pop(id(self), None)


def compile_module(module: Any, name: str, codegen: int, context: Any = None) -> Compiled:
    """JIT ``module`` (from :func:`parse`, in ``context`` if it has its own) and find ``name``."""
    # The engine owns (and will delete) this target machine: a fresh one each time.
    engine = llvm.create_mcjit_compiler(module, _new_target_machine(codegen))
    engine.finalize_object()
    address = int(engine.get_function_address(name))
    if not address:
        raise RuntimeError(f"JIT did not produce {name}")
    return Compiled(engine, address, context)


def assembly(module: Any, codegen: int) -> str:
    """Host assembly for an optimised module."""
    return str(target_machine(codegen).emit_assembly(module))


def object_code(ir_text: str, opt_level: int, codegen: int) -> bytes:
    """An object file for MCJIT from textual LLVM IR: what a compiler process returns."""
    module = parse(ir_text, opt_level)
    return bytes(target_machine(codegen).emit_object(module))


def optimised_ir(ir_text: str, opt_level: int) -> str:
    """The optimised module as text (for tools; run in a compiler process)."""
    return str(parse(ir_text, opt_level))


def assembly_text(ir_text: str, opt_level: int, codegen: int) -> str:
    """Host assembly of the optimised module (for tools; run in a compiler process)."""
    return assembly(parse(ir_text, opt_level), codegen)


def load_object(obj: bytes, name: str, context: Any = None) -> Compiled:
    """Link an object file from :func:`object_code` into an engine of its own; find ``name``.

    A thread other than the compiling one passes a ``context`` of its own
    (see :func:`parse`) for the engine's empty module.
    """
    tm = _new_target_machine(0)  # owned by the engine; code generation is already done
    empty = llvm.parse_assembly("", context)
    empty.triple = tm.triple
    engine = llvm.create_mcjit_compiler(empty, tm)
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    address = int(engine.get_function_address(name))
    if not address:
        raise RuntimeError(f"object code has no function {name}")
    return Compiled(engine, address, context)
