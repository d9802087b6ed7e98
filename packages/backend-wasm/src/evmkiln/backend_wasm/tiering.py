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

Where the optimised module comes from depends on how the fast tier was
compiled.  After an in-process compile the job holds the IR function until
it is built (what a large contract's executable keeps alive while on the
fast tier, about 5 MB for a 23 KB contract; the executable drops its fast
translation instead, as large, and makes it again from the IR if asked).
After a runtime's background compile (the whole compile in a compiler
process, :mod:`.background`) this process never had the IR: the
job holds the bytecode, the fork and the options, and the compiler process
lowers them again, the same steps giving the same IR, and translates and
compiles them optimised (:func:`.background.optimised_code`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.runtime import COMPILE_JOB, CompiledContract, deserialize, engine
from evmkiln.backend_wasm.translate import Translation, translate_for
from evmkiln.builtins.frame import Frame
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess
from evmkiln.codegen.gc_pause import gc_paused
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.tier_up import TierUpQueue, TierUpRecord

TIER_UP_SECONDS = 0.05
"""Run time (seconds, summed over runs) after which a fast-tier function is optimised."""
TIER_UP_LIMITS = CompileLimits(seconds=600.0)
"""The optimising compile of the largest contracts takes seconds, in the background."""


OPTIMISED_CODE_JOB = "evmkiln.backend_wasm.background:optimised_code"
"""The compiler process's job for a re-lowered tier-up: ``(code, fork, options)
-> (serialized module, memory base)``."""


@dataclass(frozen=True, slots=True)
class Optimised:
    """What a tier-up installs: the optimising tier's code, and its wasm when translated here."""

    contract: CompiledContract
    translation: Translation | None = None
    wasm: bytes | None = None


@dataclass(frozen=True, slots=True)
class Relowered:
    """A tier-up source that this process has no IR for: the compiler process lowers it."""

    code: bytes
    fork: str


@dataclass(slots=True)
class TierUp:
    """What an executable needs to be compiled again, and how long its runs took so far."""

    source: Function | Relowered | None
    options: CompileOptions
    name: str
    install: Callable[[Optimised], None]
    leaf: bool | None
    job: str = COMPILE_JOB
    """The compiler process's job: ``(wasm, fast) -> serialized module``."""
    run_seconds: float = 0.0
    queued: bool = False
    installed: bool = False

    def build(self, compiler: CompilerProcess | None) -> None:
        """Translate with the optimising options, compile with the optimising engine, install."""
        source = self.source
        if source is None:
            raise RuntimeError(f"{self.name}: tier-up built twice")
        if isinstance(source, Relowered):
            self.install(self._relowered(source, compiler))
            self.installed = True
            return
        with gc_paused():
            translation = translate_for(source, self.options)
            wasm = encode_module(translation.module)
        if compiler is None:
            module = wasmtime.Module(engine(), wasm)
        else:
            module = deserialize(compiler.call(self.job, wasm, False), False)
        contract = CompiledContract(module, translation.memory_base, leaf=self.leaf)
        self.install(Optimised(contract, translation, wasm))
        self.installed = True

    def _relowered(self, source: Relowered, compiler: CompilerProcess | None) -> Optimised:
        if compiler is None:
            from evmkiln.backend_wasm.background import optimised_code

            serialized, base = optimised_code(source.code, source.fork, self.options)
        else:
            serialized, base = compiler.call(
                OPTIMISED_CODE_JOB, source.code, source.fork, self.options
            )
        return Optimised(CompiledContract(deserialize(serialized, False), base, leaf=self.leaf))

    def release(self) -> None:
        """Drop the IR once installed; a failed tier-up keeps it (the executable's
        ``translation`` is made from it, and the failure is rare)."""
        if self.installed:
            self.source = None


class TieredRun:
    """An executable's contract and its way to the optimising tier.

    ``run`` times the runs of fast-tier code and queues the tier-up once they
    have taken :data:`TIER_UP_SECONDS`; the tier-up thread installs the new
    contract, and the next run on a frame thread frees the old one's idle
    instances (the idle-store bookkeeping belongs to frame threads).
    """

    contract: CompiledContract
    _tier_up: TierUp | None = None
    _tier_ups: TierUpQueue | None = None
    _retired: CompiledContract | None = None

    def _tier_up_with(self, queue: TierUpQueue, job: TierUp) -> None:
        self._tier_ups, self._tier_up = queue, job

    @property
    def optimised(self) -> bool:
        """Whether the code is the optimising tier's (or will never be)."""
        return self._tier_up is None

    def run(self, frame: Frame) -> ExitKind:
        job = self._tier_up
        if job is None:
            if self._retired is not None:
                self._drop_retired()
            return self.contract.run(frame)
        start = time.perf_counter()
        try:
            return self.contract.run(frame)
        finally:
            job.run_seconds += time.perf_counter() - start
            if job.run_seconds >= TIER_UP_SECONDS and self._tier_ups is not None:
                self._tier_ups.submit(job)

    def _install(self, optimised: Optimised) -> None:
        """Swap in the optimising tier (tier-up thread); frames running on the old code
        finish on it."""
        self._retired = self.contract
        self.contract = optimised.contract
        self._tier_up = None

    def _drop_retired(self) -> None:
        retired, self._retired = self._retired, None
        if retired is not None:
            retired.drop_store()  # a store still in use stays until idle


__all__ = [
    "OPTIMISED_CODE_JOB",
    "TIER_UP_LIMITS",
    "TIER_UP_SECONDS",
    "Optimised",
    "Relowered",
    "TierUp",
    "TierUpQueue",
    "TierUpRecord",
    "TieredRun",
]
