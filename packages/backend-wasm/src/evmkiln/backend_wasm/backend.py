"""The WebAssembly backend: IR -> wasm module -> wasmtime, behind the Backend protocol."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import wasmtime

from evmkiln.backend_wasm.encoding import encode_module
from evmkiln.backend_wasm.leaf import function_runs_no_frames
from evmkiln.backend_wasm.runtime import (
    COMPILE_JOB,
    MEMORY_MODE,
    MEMORY_MODE_ENV,
    CompiledContract,
    compiler_process,
    deserialize,
    native_stack_reason,
)
from evmkiln.backend_wasm.tiering import (
    TIER_UP_LIMITS,
    Optimised,
    Relowered,
    TieredRun,
    TierUp,
    TierUpQueue,
)
from evmkiln.backend_wasm.translate import Translation, translate_for
from evmkiln.backend_wasm.wat import to_wat
from evmkiln.codegen.backend import (
    WARM_UP_CODE,
    AotModule,
    BackendCapabilities,
    CompileOptions,
    DelegatesArtifacts,
    Executable,
)
from evmkiln.codegen.background import CompiledCode
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess
from evmkiln.codegen.gc_pause import gc_paused
from evmkiln.codegen.ir.function import Function

FAST_TIER_INSTS = 2000
"""IR functions of at least this many instructions (about 80 KB of wasm) are
compiled for the fast tier: shared halt exits (see :mod:`.translate`) and the
fast engine (``engine(fast=True)``: no Cranelift optimisation, single-pass
register allocation).  Backtracking allocation of one large dispatch function
costs 3-4x more compile time than it wins back on a transaction of a large
contract; small functions (tight loops) keep the optimising tier.  A fast-tier
function that turns out hot is compiled again with the optimising tier in the
background (:mod:`.tiering`)."""


@dataclass(frozen=True, slots=True)
class CompileTimes:
    """Seconds spent in each compilation phase (reported by ``--stats``-style tools)."""

    translate: float
    encode: float
    wasmtime: float


class WasmExecutable(TieredRun):
    """A contract compiled to wasm; ``run`` may be called re-entrantly."""

    def __init__(
        self,
        function: Function,
        options: CompileOptions,
        *,
        fast_tier: bool | None = None,
        compiler: CompilerProcess | None = None,
        job: str = COMPILE_JOB,
        tier_ups: TierUpQueue | None = None,
    ) -> None:
        """``fast_tier``: force a tier (``None``: by size, :data:`FAST_TIER_INSTS`).
        ``compiler``: where Cranelift runs (``None``: in this process).
        ``tier_ups``: where fast-tier code goes to be optimised once hot (``None``: never)."""
        t0 = time.perf_counter()
        if fast_tier is None:
            fast_tier = function.instruction_count() >= FAST_TIER_INSTS
        self.fast_tier = fast_tier
        with gc_paused():
            translation = translate_for(function, options, fast=self.fast_tier)
            t1 = time.perf_counter()
            self.wasm = encode_module(translation.module)
        t2 = time.perf_counter()
        self._translation: Translation | None = translation
        code: bytes | wasmtime.Module = self.wasm
        if compiler is not None:
            serialized = compiler.call(job, self.wasm, self.fast_tier)
            code = deserialize(serialized, self.fast_tier)
        self.contract = CompiledContract(
            code,
            translation.memory_base,
            fast=self.fast_tier,
            leaf=function_runs_no_frames(function),
        )
        t3 = time.perf_counter()
        self.name = function.name
        self.times = CompileTimes(t1 - t0, t2 - t1, t3 - t2)
        if self.fast_tier and tier_ups is not None:
            tier_up = TierUp(function, options, self.name, self._install, self.contract.leaf, job)
            self._tier_up_with(tier_ups, tier_up)
            # The job holds the IR until the tier-up: the translation, as large
            # again, is made again from it if asked for (``wat``) rather than kept.
            self._translation = None

    @property
    def translation(self) -> Translation:
        """The translation the running code was compiled from."""
        translation = self._translation
        if translation is not None:
            return translation
        job = self._tier_up
        if job is not None and isinstance(job.source, Function):
            return translate_for(job.source, job.options, fast=True)
        if self._translation is not None:  # the tier-up has just installed its own
            return self._translation
        raise RuntimeError(f"{self.name}: no translation kept")

    def _install(self, optimised: Optimised) -> None:
        if optimised.translation is not None and optimised.wasm is not None:
            self._translation, self.wasm = optimised.translation, optimised.wasm
        self.fast_tier = False
        super()._install(optimised)

    def declines(self, depth: int | None = None) -> str | None:
        """Why the next frame (at call depth ``depth``) should run on the dispatcher's
        interpreter (see :func:`~evmkiln.backend_wasm.runtime.native_stack_reason`)."""
        return native_stack_reason(depth)

    def wat(self) -> str:
        """The module as WebAssembly text (the same instructions that were encoded)."""
        return to_wat(self.translation.module, comment=f"evmkiln wasm backend: {self.name}")


class WasmBackend(DelegatesArtifacts):
    """Compiles IR to WebAssembly and runs it on wasmtime.

    ``isolated`` (the default): Cranelift compiles in a compiler process
    (:mod:`evmkiln.codegen.compiler_process`) under ``limits`` and sends the
    serialized machine code back; a crash or time-out there is a
    :class:`~evmkiln.codegen.compiler_process.CompilerProcessError` here, and
    the dispatching VM interprets that code.  Translation to wasm is Python
    and stays in this process.
    """

    name = "wasm"
    artifact_suffix = ".wasm.json"
    """Artifacts (``AotBackend``): see :mod:`evmkiln.backend_wasm.aot`."""

    compile_job = COMPILE_JOB
    """The compiler process's job: ``(wasm, fast) -> serialized module``."""
    background_job = "evmkiln.backend_wasm.background:compile_code"
    """Bytecode to serialized module in one job, lowering included
    (:mod:`evmkiln.codegen.background`)."""
    compiler_env: Mapping[str, str] = MappingProxyType({MEMORY_MODE_ENV: MEMORY_MODE})
    """The compiler process builds code for this process's memory mode."""

    def __init__(
        self, isolated: bool = True, limits: CompileLimits | None = None, tier_up: bool = True
    ) -> None:
        self.compiler = compiler_process(limits) if isolated else None
        """Where Cranelift runs; ``None``: in this process."""
        self.tier_up = tier_up
        """Optimise fast-tier functions in the background once hot (:mod:`.tiering`)."""
        # A compiler process of its own: closing the queue at exit kills it.
        self.tier_ups = TierUpQueue(
            compiler=CompilerProcess(TIER_UP_LIMITS, env=self.compiler_env) if isolated else None,
            thread_name="evmkiln-wasm-tier-up",
        )

    def wait_for_tier_ups(self) -> None:
        """Block until every function queued for optimisation runs its optimised code."""
        self.tier_ups.wait()

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(jit=True, aot=True, gas_metering_off=True, native=True)

    def compile(self, function: Function, options: CompileOptions | None = None) -> WasmExecutable:
        return WasmExecutable(
            function,
            options or CompileOptions(),
            compiler=self.compiler,
            job=self.compile_job,
            tier_ups=self.tier_ups if self.tier_up else None,
        )

    def load_compiled(self, compiled: CompiledCode) -> Executable:
        """Deserialize the module of a :attr:`background_job` (any thread); never compiles."""
        from evmkiln.backend_wasm.aot import WasmArtifactExecutable

        fast = bool(compiled.meta["fast"])
        base = compiled.meta["memory_base"]
        if not isinstance(base, int):
            raise TypeError(f"memory_base {base!r} is not an int")
        module = deserialize(compiled.payload, fast)
        leaf = compiled.meta.get("leaf")
        contract = CompiledContract(
            module, base, fast=fast, leaf=leaf if isinstance(leaf, bool) else None
        )
        executable = WasmArtifactExecutable(compiled.name, contract)
        source = compiled.meta.get("relower")
        options = compiled.meta.get("options")
        if fast and self.tier_up and isinstance(source, Relowered):
            if not isinstance(options, CompileOptions):
                raise TypeError(f"options {options!r} are not CompileOptions")
            job = TierUp(source, options, compiled.name, executable._install, contract.leaf)
            executable._tier_up_with(self.tier_ups, job)
        return executable

    def warm_up(self) -> None:
        """Pay the process's one-time costs now: both engines' first compile.

        Cranelift sets itself up on an engine's first compile (about 30 ms
        for the fast engine), which would otherwise land on whichever
        contract comes first.  Callers that time compiles call this first.
        """
        from evmkiln.codegen.pipeline import lower_bytecode

        tiny = lower_bytecode(WARM_UP_CODE)
        for fast in (False, True):
            WasmExecutable(
                tiny, CompileOptions(), fast_tier=fast, compiler=self.compiler, job=self.compile_job
            )

    def emit_wat(self, function: Function, options: CompileOptions | None = None) -> str:
        """WebAssembly text for ``function`` without instantiating it."""
        module = translate_for(function, options or CompileOptions()).module
        return to_wat(module, comment=f"evmkiln wasm backend: {function.name}")

    def _aot(self) -> AotModule:
        from evmkiln.backend_wasm import aot

        return aot
