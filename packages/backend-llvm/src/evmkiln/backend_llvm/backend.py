"""The LLVM backend: compile IR functions to native code and run them on frames."""

from __future__ import annotations

import ctypes
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit, shared_helpers
from evmkiln.backend_llvm.builtin_bridge import RunState
from evmkiln.backend_llvm.context_layout import STATUS_ERROR, STATUS_HALT
from evmkiln.backend_llvm.tiering import TIER_UP_SECONDS, TierUp, TierUpQueue
from evmkiln.backend_llvm.translate import translate
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.codegen.backend import (
    WARM_UP_CODE,
    AotModule,
    BackendCapabilities,
    CompileOptions,
    DelegatesArtifacts,
    ExitKind,
)
from evmkiln.codegen.background import CompiledCode
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess, shared_compiler
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.printer import format_function

ENTRY_PROTOTYPE = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
"""Generated functions are called with the GIL held: every builtin crossing
re-enters Python anyway, and keeping the GIL makes a crossing about a third
cheaper than releasing and re-acquiring it each time."""
_EXITS = {int(k): k for k in ExitKind}


class LlvmExecutable:
    """Native code for one IR function; ``run`` executes it on a frame."""

    def __init__(
        self, name: str, compiled: jit.Compiled, tier_up: tuple[TierUp, TierUpQueue] | None = None
    ) -> None:
        self.name = name
        self._compiled = compiled  # keeps the engine, hence the code, alive
        self._retired: list[jit.Compiled] = []
        self._entry: Any = ENTRY_PROTOTYPE(compiled.address)
        self._tier_up = tier_up
        if tier_up is not None:
            tier_up[0].install = self._install

    @property
    def optimised(self) -> bool:
        """Whether the code comes from the optimising code generator (or will never be)."""
        return self._tier_up is None

    def _install(self, compiled: jit.Compiled) -> None:
        """Swap in tier-up code; frames already running on the old code finish on it."""
        self._retired.append(self._compiled)
        self._compiled = compiled
        self._entry = ENTRY_PROTOTYPE(compiled.address)
        self._tier_up = None

    def run(self, frame: Frame) -> ExitKind:
        tier_up = self._tier_up
        state = RunState.begin(frame)
        kind = None
        try:
            if tier_up is None:
                status = int(self._entry(state.address))
            else:
                start = time.perf_counter()
                status = int(self._entry(state.address))
                job, queue = tier_up
                job.run_seconds += time.perf_counter() - start
                if job.run_seconds >= TIER_UP_SECONDS:
                    queue.submit(job)
            # How the run ended (in line: every frame asks); RETURN/REVERT data goes to
            # ``frame.output``, halts and errors are raised.
            kind = _EXITS.get(status)
            if kind is None:
                self._raise_for(state, status)
            elif kind is ExitKind.RETURN or kind is ExitKind.REVERT:
                state.frame.output = state.output()
            return kind
        finally:
            state.end(kind is ExitKind.STOP or kind is ExitKind.RETURN)

    def _raise_for(self, state: RunState, status: int) -> NoReturn:
        """The exception of a run that ended with a halt or error ``status``."""
        if status == STATUS_HALT:
            error = state.error
            if isinstance(error, ExceptionalHalt):
                raise error
            raise ExceptionalHalt(HaltKind(state.ctx.halt_kind))
        if status == STATUS_ERROR and state.error is not None:
            raise state.error
        raise RuntimeError(f"{self.name} returned unknown status {status}")


def instruction_count(function: Function) -> int:
    """The size that decides how hard the code generator works (:func:`jit.codegen_level`)."""
    return sum(len(block.insts) for block in function.blocks)


def _cache_key(function: Function, options: CompileOptions) -> str:
    text = format_function(function)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{function.name}:{digest}:{options.opt_level}:{int(options.gas_metering)}"


MAX_CACHED_EXECUTABLES = 1024
"""Functions the backend keeps compiled for a later ``compile`` of the same IR
(least recently used dropped first).  The dispatching VM's code cache holds
what runs; this one only saves a recompile after that cache evicted a code,
so it is bounded too: a process that meets millions of contracts must not
keep every one's machine code."""
TIER_UP_LIMITS = CompileLimits(seconds=600.0)
"""A tier-up compiles large functions with the optimising code generator: up to
tens of seconds for the largest contracts, in the background."""


class LlvmBackend(DelegatesArtifacts):
    """Translate IR to LLVM IR, optimise it and compile it to machine code (MCJIT).

    Executables are cached by the function's printed IR and the options, so a
    contract seen again (same code, hence same IR) is not recompiled.

    ``isolated`` (the default): LLVM's passes and code generator run in a
    compiler process (:mod:`evmkiln.codegen.compiler_process`) under
    ``limits``; a crash, an assertion, memory exhaustion or a time-out there
    is a :class:`~evmkiln.codegen.compiler_process.CompilerProcessError`
    here, and the dispatching VM runs that code on the interpreter.  The
    machine code comes back as an object file and is linked in this process.
    ``isolated=False`` runs LLVM in this process, as a trusted tool may.
    """

    object_code_job = "evmkiln.backend_llvm.jit:object_code"
    """The compiler process's job: ``(ir_text, opt_level, codegen) -> object file``."""
    background_job = "evmkiln.backend_llvm.background:compile_code"
    """Bytecode to object file in one job, lowering included
    (:mod:`evmkiln.codegen.background`)."""
    compiler_env: Mapping[str, str] = MappingProxyType({})

    name = "llvm"
    artifact_suffix = ".llvm.json"
    """Artifacts (``AotBackend``): see :mod:`evmkiln.backend_llvm.aot`."""

    def __init__(
        self,
        tier_up: bool = True,
        isolated: bool = True,
        limits: CompileLimits | None = None,
        max_cached: int = MAX_CACHED_EXECUTABLES,
    ) -> None:
        if max_cached < 1:
            raise ValueError("the executable cache needs room for at least one function")
        self.max_cached = max_cached
        self._cache: OrderedDict[str, LlvmExecutable] = OrderedDict()
        self._lock = threading.Lock()
        self.tier_up = tier_up
        """Optimise large functions in the background once hot (:mod:`.tiering`)."""
        self.compiler = shared_compiler(limits) if isolated else None
        """Where LLVM runs (shared by backends with the same limits); ``None``: in this process."""
        self.tier_ups = TierUpQueue(
            compiler=CompilerProcess(TIER_UP_LIMITS) if isolated else None,
            thread_name="evmkiln-llvm-tier-up",
        )

    def wait_for_tier_ups(self) -> None:
        """Block until every function queued for optimisation runs its optimised code."""
        self.tier_ups.wait()

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(jit=True, aot=True, gas_metering_off=True, native=True)

    def compile(self, function: Function, options: CompileOptions | None = None) -> LlvmExecutable:
        options = options or CompileOptions()
        key = _cache_key(function, options)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        text = str(translate(function, options, shared_helpers=True))
        codegen = jit.codegen_level(options.opt_level, instruction_count(function))
        compiled = self._machine_code(text, function.name, options.opt_level, codegen)
        tier_up = None
        if self.tier_up and codegen < jit.codegen_level(options.opt_level, 0):
            job = TierUp(
                text, function.name, options.opt_level, lambda _: None, self.object_code_job
            )
            tier_up = (job, self.tier_ups)
        executable = LlvmExecutable(function.name, compiled, tier_up)
        with self._lock:
            executable = self._cache.setdefault(key, executable)
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)  # frames still running keep their code alive
            return executable

    def load_compiled(self, compiled: CompiledCode) -> LlvmExecutable:
        """Link the object file of a :attr:`background_job` into an engine of its own.

        The engine gets an LLVM context of its own, so this may run on any
        thread.  A function compiled with the fast code generator gets the
        backend's tier-up, as after :meth:`compile`.
        """
        shared_helpers.ensure()
        code = jit.load_object(compiled.payload, compiled.name, llvm.create_context())
        tier_up = None
        text = compiled.meta.get("ir_text")
        opt_level = compiled.meta.get("opt_level")
        if self.tier_up and isinstance(text, str) and isinstance(opt_level, int):
            job = TierUp(text, compiled.name, opt_level, lambda _: None, self.object_code_job)
            tier_up = (job, self.tier_ups)
        return LlvmExecutable(compiled.name, code, tier_up)

    def _machine_code(self, text: str, name: str, opt_level: int, codegen: int) -> jit.Compiled:
        shared_helpers.ensure()
        if self.compiler is None:
            return jit.compile_module(jit.parse(text, opt_level), name, codegen)
        obj = self.compiler.call(self.object_code_job, text, opt_level, codegen)
        return jit.load_object(obj, name)

    def warm_up(self) -> None:
        """Pay the process's one-time costs now: LLVM's set-up and both code generators.

        Initialising the native target and building each code generator's
        target machine would otherwise land on whichever contract is
        compiled first.  Callers that time compiles call this first.
        """
        from evmkiln.codegen.pipeline import lower_bytecode

        tiny = lower_bytecode(WARM_UP_CODE)
        text = str(translate(tiny, CompileOptions(), shared_helpers=True))
        for codegen in (0, 2):
            self._machine_code(text, tiny.name, CompileOptions().opt_level, codegen)

    def emit_llvm(self, function: Function, options: CompileOptions | None = None) -> str:
        """The optimised LLVM IR of ``function`` (unoptimised at ``opt_level=0``)."""
        options = options or CompileOptions()
        text = str(translate(function, options))
        if self.compiler is None:
            return jit.optimised_ir(text, options.opt_level)
        return str(
            self.compiler.call("evmkiln.backend_llvm.jit:optimised_ir", text, options.opt_level)
        )

    def emit_asm(self, function: Function, options: CompileOptions | None = None) -> str:
        """Host assembly for ``function``."""
        options = options or CompileOptions()
        text = str(translate(function, options))
        codegen = jit.codegen_level(options.opt_level, instruction_count(function))
        if self.compiler is None:
            return jit.assembly_text(text, options.opt_level, codegen)
        job = "evmkiln.backend_llvm.jit:assembly_text"
        return str(self.compiler.call(job, text, options.opt_level, codegen))

    def _aot(self) -> AotModule:
        from evmkiln.backend_llvm import aot

        return aot
