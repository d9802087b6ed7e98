"""Tier-up: large functions that turn out hot are recompiled with the optimising code generator.

LLVM's optimising code generator is what makes loops fast (registers instead
of a spill around every instruction), but its cost grows faster than linearly
with function size: snailtracer's 7,500 IR instructions take 0.5 s with the
fast code generator and 7.9 s with -O2.  Paying that up front for every
large contract would make the JIT useless on contracts that run once.  So a
large function is first compiled with the fast code generator (see
:func:`evmkiln.backend_llvm.jit.codegen_level`), and once its runs have taken
:data:`TIER_UP_SECONDS` it is queued for the optimising one.  A background
thread compiles it in an LLVM context of its own while the fast code keeps
running; the new entry point replaces the old one between two frames.  Both
are compiled from the same IR, so the results are identical.

The old machine code is kept alive: a frame of the same contract may still be
running on it (a deeper frame can start on the new code meanwhile).

The queue and its thread are :mod:`evmkiln.codegen.tier_up`'s (the wasm
backend tiers up the same way); this module holds the LLVM job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit, shared_helpers
from evmkiln.codegen.compiler_process import CompilerProcess
from evmkiln.codegen.tier_up import TierUpQueue, TierUpRecord

TIER_UP_SECONDS = 0.05
"""Run time (seconds, summed over runs) after which a fast-compiled function is optimised."""
OPTIMISING_CODEGEN = 2
OBJECT_CODE_JOB = "evmkiln.backend_llvm.jit:object_code"


@dataclass(slots=True)
class TierUp:
    """What an executable needs to be compiled again, and how long its runs took so far."""

    ir_text: str
    name: str
    opt_level: int
    install: Callable[[jit.Compiled], None]
    job: str = OBJECT_CODE_JOB
    """The compiler process's job: ``(ir_text, opt_level, codegen) -> object file``."""
    run_seconds: float = 0.0
    queued: bool = False

    def build(self, compiler: CompilerProcess | None) -> None:
        """The optimising code generator's code, in an LLVM context of its own (any thread)."""
        shared_helpers.ensure()  # the text may declare them (see translate)
        context = llvm.create_context()
        if compiler is None:
            module = jit.parse(self.ir_text, self.opt_level, context)
            self.install(jit.compile_module(module, self.name, OPTIMISING_CODEGEN, context))
        else:
            obj = compiler.call(self.job, self.ir_text, self.opt_level, OPTIMISING_CODEGEN)
            self.install(jit.load_object(obj, self.name, context))

    def release(self) -> None:
        self.ir_text = ""


__all__ = ["OPTIMISING_CODEGEN", "TIER_UP_SECONDS", "TierUp", "TierUpQueue", "TierUpRecord"]
