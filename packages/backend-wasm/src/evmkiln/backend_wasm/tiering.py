"""Tier-up: large wasm functions that turn out hot are compiled again, optimised.

A function of :data:`~evmkiln.backend_wasm.backend.FAST_TIER_INSTS` or more
IR instructions starts on the fast tier: shared halt exits and word helpers
called rather than inlined in the translation, no Cranelift optimisation and
single-pass register allocation.  That keeps the first compile of a large
contract cheap, but the code runs about half as fast as the optimising
tier's (snailtracer: 97 ms against 55-65 ms).  So, as the LLVM backend does
(:mod:`evmkiln.backend_llvm.tiering`), once a fast-tier function's runs have
taken :data:`TIER_UP_SECONDS` it is queued on the backend's
:class:`~evmkiln.codegen.tier_up.TierUpQueue`: a background thread
translates the same IR with the optimising options (the translation AOT
artifacts get) and Cranelift compiles it with the optimising engine, in a
compiler process of its own.  The new module replaces the old one between
two frames; a frame still running on the old module finishes on it.

The job holds the IR function until it is built: what a large contract's
executable keeps alive while its code is on the fast tier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.runtime import COMPILE_JOB, CompiledContract, deserialize, engine
from evmkiln.backend_wasm.translate import Translation, translate
from evmkiln.codegen.backend import CompileOptions, traces_preimages
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess
from evmkiln.codegen.gc_pause import gc_paused
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.tier_up import TierUpQueue, TierUpRecord

TIER_UP_SECONDS = 0.05
"""Run time (seconds, summed over runs) after which a fast-tier function is optimised."""
TIER_UP_LIMITS = CompileLimits(seconds=600.0)
"""The optimising compile of the largest contracts takes seconds, in the background."""


@dataclass(frozen=True, slots=True)
class Optimised:
    """What a tier-up installs: the optimising tier's translation, module and code."""

    translation: Translation
    wasm: bytes
    contract: CompiledContract


@dataclass(slots=True)
class TierUp:
    """What an executable needs to be compiled again, and how long its runs took so far."""

    function: Function | None
    options: CompileOptions
    name: str
    install: Callable[[Optimised], None]
    leaf: bool | None
    job: str = COMPILE_JOB
    """The compiler process's job: ``(wasm, fast) -> serialized module``."""
    run_seconds: float = 0.0
    queued: bool = False

    def build(self, compiler: CompilerProcess | None) -> None:
        """Translate with the optimising options, compile with the optimising engine, install."""
        function = self.function
        if function is None:
            raise RuntimeError(f"{self.name}: tier-up built twice")
        with gc_paused():
            translation = translate(
                function,
                gas_metering=self.options.gas_metering,
                trace_preimages=traces_preimages(self.options),
            )
            wasm = encode_module(translation.module)
        if compiler is None:
            module = wasmtime.Module(engine(), wasm)
        else:
            module = deserialize(compiler.call(self.job, wasm, False), False)
        contract = CompiledContract(module, translation.memory_base, leaf=self.leaf)
        self.install(Optimised(translation, wasm, contract))

    def release(self) -> None:
        self.function = None


__all__ = [
    "TIER_UP_LIMITS",
    "TIER_UP_SECONDS",
    "Optimised",
    "TierUp",
    "TierUpQueue",
    "TierUpRecord",
]
