"""The tiered code cache: counts every code's calls and gas, promotes hot code in the background.

:class:`TieredCodeCache` has the code cache's interface (``get(code)``
returns the executable to run, or ``None``: interpret) plus ``charge(code,
gas)``, which the VM calls when a frame of that code ends.  Policy:
:mod:`.policy`.

Where compiles run, and why.  Lowering is Python and holds the GIL (about 5
us per byte of code, 0.1 s for a 23 KB contract); a backend's code generator
is native but its translation is Python too.  A thread of this process would
therefore take that time from the frames still running on the lower tier.
So each worker is a thread of this process driving a compiler process
(:class:`~evmkiln.codegen.compiler_process.CompilerProcess`) that does the
whole compile, bytecode in, machine code out
(:class:`~evmkiln.codegen.background.BackgroundBackend`): the thread spends the
compile blocked on the pipe, GIL released, and this process pays only the
pipe and the load (measured: 0.6 ms for a wasm module of 450 KB, 2-3 ms to
link an LLVM object of 100-500 KB, against compiles of 60 ms to 1 s).  The
compiler process also isolates this one from a compiler crash and enforces
the time and memory budget.  Backends without a background job (the ``ir``
reference backend, stand-ins in tests) and custom ``lower`` functions are
compiled on the worker thread itself: still off the frame's path, but
sharing the GIL, and without a time limit.

Concurrency.  One lock guards the cache's tables; lookups take it for a
few dict operations, workers only to install a result.  Nothing runs under
it: no compile, no frame, no callback.  A frame that started on a tier
finishes on it (it holds its executable); the next frame of the code gets
whatever is installed by then.

The one path from bytecode to executable is :meth:`TieredCodeCache.compile_code`.

Across processes.  Each compiled tier may have a persistent code cache
(:class:`~evmkiln.context.code_cache.PersistentCode`, the on-disk cache of
:mod:`evmkiln.context.disk_cache`).  A code seen for the first time is looked
up there, highest tier first, before it runs: found, it starts on that tier
with nothing to compile (``RuntimeStats.loaded``), so a process that meets
what an earlier one made hot runs it compiled from its first frame.  A code
compiled here is handed to its tier's cache, whose writer thread lowers and
saves it off the frame's path.  A code that never got hot is never written,
and is interpreted again, as the policy wants.
"""

from __future__ import annotations

import atexit
import functools
import os
import queue
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evmkiln.codegen.backend import Backend, CompileOptions, Executable
from evmkiln.codegen.background import PHASES, BackgroundBackend
from evmkiln.codegen.budget import CompileRefused
from evmkiln.codegen.compiler_process import (
    CompileJobError,
    CompileLimits,
    CompilerProcess,
    CompileTimeLimit,
)
from evmkiln.context.artifact_store import AotRequiredError, code_hash
from evmkiln.context.code_cache import (
    DispatchStats,
    Lowering,
    PersistentCode,
    lower_with_pipeline,
)
from evmkiln.context.runtime.policy import RuntimePolicy
from evmkiln.context.runtime.telemetry import (
    CompilationCallback,
    CompilationEvent,
    Outcome,
    RuntimeStats,
)

ESTIMATED_BYTES_PER_CODE_BYTE = 64
"""What an in-process compile is charged per byte of bytecode when the
executable does not say its size (measured machine code: LLVM objects 25-50,
wasm modules 70-130 bytes per byte of code)."""


def _machine_code_bytes(executable: Executable, code: bytes) -> int:
    """What ``executable`` counts against ``cache_bytes``: its own size, else an estimate."""
    nbytes = getattr(executable, "nbytes", None)
    return nbytes if isinstance(nbytes, int) else ESTIMATED_BYTES_PER_CODE_BYTE * len(code)


@dataclass(frozen=True, slots=True)
class Tier:
    """One compiled tier: a backend and the options it compiles with."""

    backend: Backend
    options: CompileOptions

    @property
    def name(self) -> str:
        level = self.options.opt_level
        if level == CompileOptions().opt_level:
            return self.backend.name
        return f"{self.backend.name}:O{level}"


@dataclass(frozen=True, slots=True)
class Compiled:
    """What :meth:`TieredCodeCache.compile_code` produces."""

    executable: Executable
    nbytes: int
    phases: Mapping[str, float]


@dataclass(slots=True, eq=False)
class _Entry:
    """One tracked code: its tier, executable and counters."""

    size: int
    ceiling: int
    """The highest tier this code may reach (lowered for good by a failed compile)."""
    limits: tuple[tuple[int | None, int | None], ...]
    """(calls, gas) thresholds of each compiled tier, for this code's size."""
    tier: int = 0
    executable: Executable | None = None
    calls: int = 0
    gas: int = 0
    pending: int = 0
    """The tier a compile is under way for (0: none)."""
    nbytes: int = 0
    last_used: float = 0.0

    def target(self) -> int:
        """The highest tier above the current one whose threshold is reached (0: none)."""
        best = 0
        for tier in range(self.tier + 1, self.ceiling + 1):
            calls, gas = self.limits[tier - 1]
            if (calls is not None and self.calls >= calls) or (gas is not None and self.gas >= gas):
                best = tier
        return best


@dataclass(slots=True)
class _Job:
    code: bytes
    entry: _Entry
    tier: int
    queued_at: float


@dataclass(slots=True)
class _Counters:
    lookups: int = 0
    queued: int = 0
    done: int = 0
    failed: int = 0
    refused: int = 0
    timed_out: int = 0
    abandoned: int = 0
    rejected: int = 0
    remembered_refusals: int = 0
    evicted_bytes: int = 0
    evicted_idle: int = 0
    phases: dict[str, float] = field(default_factory=dict)


_LIVE: weakref.WeakSet[TieredCodeCache] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop every runtime's workers at exit: queued compiles dropped, running ones killed."""
    for cache in list(_LIVE):
        cache.close()


def _refusal_names() -> frozenset[str]:
    names: set[str] = set()
    todo: list[type[BaseException]] = [CompileRefused]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return frozenset(names)


def _is_refusal(error: CompileJobError) -> bool:
    """Whether a job error in the compiler process was a :class:`CompileRefused` there."""
    text = str(error)
    return any(f": {name}: " in text for name in _refusal_names())


class TieredCodeCache:
    """Runs code on the tier it has earned; see the module docstring.

    ``tiers`` are the compiled tiers, lowest first (tier 0, the interpreter,
    is implicit).  ``lower`` is ``None`` for codegen's pipeline (which then
    runs in the compiler process for backends that can), or a stand-in.
    ``artifacts`` (by code hash, as for :class:`~evmkiln.context.code_cache.CodeCache`)
    put a code on the top tier at first sight.  ``persistent`` holds each
    compiled tier's cross-process cache (lowest first, ``None`` for none).
    """

    counts_gas = True
    """The VM reports each frame's gas to :meth:`charge`."""

    def __init__(
        self,
        tiers: Sequence[Tier],
        policy: RuntimePolicy,
        stats: DispatchStats,
        *,
        fork: str = "cancun",
        lower: Lowering | None = None,
        artifacts: Mapping[bytes, Executable] | None = None,
        strict: bool = False,
        on_compilation: CompilationCallback | None = None,
        persistent: Sequence[PersistentCode | None] = (),
    ) -> None:
        if not tiers:
            raise ValueError("a tiered code cache needs at least one compiled tier")
        if len(persistent) > len(tiers):
            raise ValueError("more persistent caches than compiled tiers")
        self.tiers = tuple(tiers)
        self.policy = policy
        self.stats = stats
        self.fork = fork
        self.in_child = lower is None
        """Whether codegen's pipeline lowers (and may do so in a compiler process)."""
        self.lower: Lowering = lower or functools.partial(lower_with_pipeline, fork=fork)
        self.artifacts: Mapping[bytes, Executable] = artifacts or {}
        self.strict = strict
        self.on_compilation = on_compilation
        self.persistent: tuple[PersistentCode | None, ...] = (
            *persistent,
            *(None,) * (len(self.tiers) - len(persistent)),
        )
        """Each compiled tier's cross-process cache, lowest first (``None``: none)."""
        self._any_persistent = any(p is not None for p in self.persistent)
        self.aot_codes: set[bytes] = set()
        """Codes whose executable came from an artifact."""
        self._thresholds = tuple(policy.threshold(k) for k in range(1, len(self.tiers) + 1))
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._entries: dict[bytes, _Entry] = {}
        self._compiled: OrderedDict[bytes, _Entry] = OrderedDict()
        """Entries holding compiled code, least recently used first."""
        self._ceilings: dict[bytes, int] = {}
        """Codes held below the top tier by a failed compile (oldest first, bounded)."""
        self._backlog: OrderedDict[bytes, int] = OrderedDict()
        """Promotions that came beyond ``max_pending``, oldest first (see :meth:`_defer`)."""
        self._bytes = 0
        self._pending = 0
        self._storing = 0
        """Finished compiles not yet handed to their persistent cache."""
        self._hits = [0] * (len(self.tiers) + 1)
        self._promotions = [0] * (len(self.tiers) + 1)
        self._loaded = [0] * (len(self.tiers) + 1)
        self._counters = _Counters(phases=dict.fromkeys((*PHASES, "total"), 0.0))
        self._swept = time.monotonic()
        self._sweep_every = (
            policy.idle_evict_seconds / 8 if policy.idle_evict_seconds is not None else None
        )
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._compilers: list[CompilerProcess] = []
        self._sync_compiler: CompilerProcess | None = None
        self._closed = False
        _LIVE.add(self)

    # -- the frame's path ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._compiled)

    def get(self, code: bytes) -> Executable | None:
        """The executable of ``code``'s current tier (``None``: interpret); counts the call."""
        now = time.monotonic()
        with self._lock:
            entries = self._entries
            entry = entries.pop(code, None)
            fresh = entry is None
            if entry is None:
                entry = self._track(code)
            entries[code] = entry  # most recently seen last
            entry.calls += 1
            entry.last_used = now
            self._counters.lookups += 1
            self._hits[entry.tier] += 1
            if entry.tier:
                self._compiled.move_to_end(code)
            target = entry.target() if entry.tier < entry.ceiling and not entry.pending else 0
            executable = entry.executable
            every = self._sweep_every
            if every is not None and now - self._swept > every:
                self._evict_idle(now)
        if fresh and self._any_persistent and entry.tier < entry.ceiling:
            loaded = self._load_persistent(code, entry)
            if loaded is not None:
                return loaded
        if target:
            promoted = self._promote(code, entry, target)
            if promoted is not None:
                return promoted
        return executable

    def charge(self, code: bytes, gas: int) -> None:
        """Add the gas a frame of ``code`` used (entry to exit, children included)."""
        with self._lock:
            entry = self._entries.get(code)
            if entry is None:
                return
            entry.gas += gas
            if entry.tier >= entry.ceiling or entry.pending:
                return
            target = entry.target()
        if target:
            self._promote(code, entry, target)

    def _track(self, code: bytes) -> _Entry:
        """A new entry (lock held): artifacts first, then the size limit and remembered failures."""
        entries = self._entries
        if len(entries) >= self.policy.max_tracked:
            oldest = next(iter(entries))
            self._forget(oldest, entries.pop(oldest))
        size = len(code)
        top = len(self.tiers)
        ceiling = 0 if size > self.policy.max_code_size else top
        remembered = self._ceilings.get(code)
        if remembered is not None:
            ceiling = min(ceiling, remembered)
        limits = tuple((t.calls, t.gas_for(size)) for t in self._thresholds)
        entry = _Entry(size, ceiling, limits)
        if self.artifacts or self.strict:
            preloaded = self.artifacts.get(code_hash(code))
            if preloaded is not None:
                self.aot_codes.add(code)
                entry.tier = entry.ceiling = top
                entry.executable = preloaded
            elif self.strict:
                raise AotRequiredError(
                    f"no artifact for code 0x{code_hash(code).hex()} ({size} bytes) "
                    "and strict_aot forbids compiling it"
                )
        return entry

    def _load_persistent(self, code: bytes, entry: _Entry) -> Executable | None:
        """Put a new code on the highest tier an earlier process left it compiled for.

        The lookups (a ``stat`` per tier on a miss, a load on a hit) run
        outside the lock.  The frame that asked runs on the loaded tier.
        """
        for tier in range(entry.ceiling, 0, -1):
            persistent = self.persistent[tier - 1]
            if persistent is None:
                continue
            executable = persistent.lookup(code)  # never raises
            if executable is None:
                refused = persistent.refusal(code)
                if refused is not None:
                    self._refused_before(code, entry, tier, refused)
                continue
            nbytes = _machine_code_bytes(executable, code)
            with self._lock:
                if self._closed or self._entries.get(code) is not entry or entry.tier >= tier:
                    return None
                self._forget(code, entry)
                self._hits[entry.tier] -= 1  # the frame that asked runs on the loaded tier
                self._hits[tier] += 1
                entry.tier = tier
                entry.executable = executable
                entry.nbytes = nbytes
                self._compiled[code] = entry
                self._bytes += nbytes
                self._loaded[tier] += 1
                self._evict_bytes(keep=code)
            return executable
        return None

    def _refused_before(self, code: bytes, entry: _Entry, tier: int, reason: str) -> None:
        """An earlier process gave up compiling ``code`` for ``tier``: cap it below."""
        with self._lock:
            if entry.ceiling >= tier:
                entry.ceiling = tier - 1
                self._remember_ceiling(code, entry.ceiling)
                self._counters.remembered_refusals += 1
                self.stats.refusals[code] = f"an earlier process: {reason}"

    def _forget(self, code: bytes, entry: _Entry) -> None:
        """Drop ``entry``'s compiled code from the byte count (lock held)."""
        if self._compiled.pop(code, None) is not None:
            self._bytes -= entry.nbytes
        self.aot_codes.discard(code)

    def _remember_ceiling(self, code: bytes, tier: int) -> None:
        ceilings = self._ceilings
        ceilings.pop(code, None)
        ceilings[code] = tier
        while len(ceilings) > self.policy.max_tracked:
            del ceilings[next(iter(ceilings))]

    # -- promotion and compiling -------------------------------------------------------

    def _promote(self, code: bytes, entry: _Entry, tier: int) -> Executable | None:
        """Queue (or, without ``background``, run) the compile of ``code`` for ``tier``.

        Returns the new executable when it was compiled right here.
        """
        with self._lock:
            tier = min(tier, entry.ceiling)  # lowered meanwhile (a remembered refusal)
            if self._closed or entry.pending or entry.tier >= tier:
                return None
            if self._entries.get(code) is not entry:
                return None  # forgotten meanwhile
            if self.policy.background:
                self._submit_or_defer(code, entry, tier)
                return None
            if self._pending >= self.policy.max_pending:
                self._counters.rejected += 1  # compiles on the callers' threads: retried later
                return None
            job = self._queue(code, entry, tier)
            if self._sync_compiler is None:
                self._sync_compiler = self._new_compiler()
            compiler = self._sync_compiler
        before = entry.tier
        self._run(job, compiler)
        with self._lock:
            if entry.tier != tier:
                return None
            self._hits[before] -= 1  # the frame that promoted it runs on the new tier
            self._hits[tier] += 1
            return entry.executable

    def _queue(self, code: bytes, entry: _Entry, tier: int) -> _Job:
        """A job for ``code``'s compile to ``tier``, counted as pending (lock held)."""
        entry.pending = tier
        self._pending += 1
        self._counters.queued += 1
        self._promotions[tier] += 1
        return _Job(code, entry, tier, time.perf_counter())

    def _submit(self, code: bytes, entry: _Entry, tier: int) -> None:
        """Hand ``code``'s compile to ``tier`` to the background workers (lock held)."""
        self._jobs.put(self._queue(code, entry, tier))
        self._start_worker()

    def _submit_or_defer(self, code: bytes, entry: _Entry, tier: int) -> None:
        """:meth:`_submit`, or :meth:`_defer` while ``max_pending`` compiles are under way."""
        if self._pending >= self.policy.max_pending:
            self._defer(code, entry, tier)
        else:
            self._submit(code, entry, tier)

    def _defer(self, code: bytes, entry: _Entry, tier: int) -> None:
        """Keep a promotion beyond ``max_pending`` in the backlog (lock held).

        The code counts as pending from now on (its frames do not try again);
        :meth:`_drain_backlog` queues it, oldest first, when a compile ends.
        Without the backlog a code whose promotion came while the queue was
        full, and that then ran no more, was never compiled: a burst of new
        hot code (a process's start) lost its promotions, and the next
        process, finding nothing in the persistent cache, compiled it again.
        """
        self._counters.rejected += 1
        entry.pending = tier
        backlog = self._backlog
        backlog[code] = tier
        if len(backlog) > self.policy.max_tracked:
            oldest, _ = backlog.popitem(last=False)
            dropped = self._entries.get(oldest)
            if dropped is not None:
                dropped.pending = 0  # no job was queued: promotable again at its next frame

    def _promote_further(self, code: bytes, entry: _Entry) -> None:
        """Queue the next tier of a code that got hot enough for it meanwhile (lock held).

        While a compile is under way the code's frames do not ask for another
        (it is pending), so a code that crossed the next threshold during its
        compile, and then ran no more, would stay below that tier; a later
        process loading it from the persistent cache would then compile it.
        """
        if not self.policy.background or self._closed or self._entries.get(code) is not entry:
            return
        tier = entry.target() if entry.tier < entry.ceiling else 0
        if tier:
            self._submit_or_defer(code, entry, tier)

    def _drain_backlog(self) -> None:
        """Queue deferred promotions while there is room (lock held; background only)."""
        backlog = self._backlog
        while backlog and self._pending < self.policy.max_pending and not self._closed:
            code, tier = backlog.popitem(last=False)
            entry = self._entries.get(code)
            if entry is None or entry.tier >= entry.ceiling:
                continue
            entry.pending = 0
            tier = min(max(tier, entry.target()), entry.ceiling)
            if tier > entry.tier:
                self._submit(code, entry, tier)

    def _new_compiler(self) -> CompilerProcess | None:
        """A compiler process for whole compiles, if any tier can use one (lock held)."""
        if not self.in_child:
            return None
        env: dict[str, str] = {}
        usable = False
        for tier in self.tiers:
            if isinstance(tier.backend, BackgroundBackend):
                usable = True
                env.update(tier.backend.compiler_env)
        if not usable:
            return None
        limits = CompileLimits(
            seconds=self.policy.compile_seconds, memory_bytes=self.policy.compile_memory_bytes
        )
        compiler = CompilerProcess(limits, env=env)
        self._compilers.append(compiler)
        return compiler

    def _start_worker(self) -> None:
        """Start another worker while there are fewer than jobs and ``workers`` (lock held)."""
        alive = [w for w in self._workers if w.is_alive()]
        self._workers = alive
        if len(alive) >= self.policy.workers or len(alive) >= self._pending:
            return
        compiler = self._new_compiler()
        worker = threading.Thread(
            target=_work,
            args=(weakref.ref(self), self._jobs, compiler, self.policy.compiler_nice),
            name=f"evmkiln-jit-{len(alive)}",
            daemon=True,
        )
        self._workers.append(worker)
        worker.start()

    def compile_code(self, code: bytes, tier: int, compiler: CompilerProcess | None) -> Compiled:
        """Lower and compile ``code`` for compiled tier ``tier``: the one way code becomes
        an executable here.

        With a ``compiler`` process and a backend that can, the whole compile
        runs there and only the load runs here; otherwise on this thread.
        Raises whatever the compile raises (:class:`CompileRefused` for a
        refusal, :class:`~evmkiln.codegen.compiler_process.CompilerProcessError`
        for a crash or time-out in the compiler process).
        """
        spec = self.tiers[tier - 1]
        backend = spec.backend
        if compiler is not None and isinstance(backend, BackgroundBackend):
            compiled = compiler.call(backend.background_job, code, self.fork, spec.options)
            start = time.perf_counter()
            executable = backend.load_compiled(compiled)
            phases = {**compiled.phases, "load": time.perf_counter() - start}
            return Compiled(executable, compiled.nbytes, phases)
        start = time.perf_counter()
        function = self.lower(code)
        lowered = time.perf_counter()
        executable = backend.compile(function, spec.options)
        done = time.perf_counter()
        nbytes = _machine_code_bytes(executable, code)
        phases = {"lowering": lowered - start, "backend": done - lowered}
        return Compiled(executable, nbytes, phases)

    def _run(self, job: _Job, compiler: CompilerProcess | None) -> None:
        """Compile one job and install its result (on a worker, or the caller without
        ``background``)."""
        result: Compiled | None = None
        outcome: Outcome = "done"
        error = ""
        try:
            if self._closed:
                outcome = "abandoned"
            else:
                result = self.compile_code(job.code, job.tier, compiler)
        except CompileRefused as exc:
            outcome, error = "refused", str(exc)
        except CompileTimeLimit as exc:
            outcome, error = "timed_out", str(exc)
        except CompileJobError as exc:
            outcome, error = ("refused" if _is_refusal(exc) else "failed"), str(exc)
        except Exception as exc:  # any compiler failure: the code stays where it is
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        if outcome == "failed" and self._closed:
            outcome = "abandoned"  # killed by close()
        seconds = time.perf_counter() - job.queued_at
        nbytes = 0 if result is None else result.nbytes
        with self._lock:
            outcome = self._install(job, result, outcome, error)
            self._counters.phases["total"] += seconds
        persistent = self.persistent[job.tier - 1]
        if outcome in ("refused", "timed_out") and persistent is not None:
            # Given up for good here; later processes need not spend the budget again.
            persistent.remember_refusal(job.code, f"{outcome}: {error}")
        if outcome == "done" and persistent is not None:
            # Lowered again on the cache's writer thread, only if it writes.
            try:
                persistent.store(job.code, functools.partial(self.lower, job.code))
            finally:
                with self._lock:
                    self._storing -= 1
                    self._idle.notify_all()
        callback = self.on_compilation
        if callback is not None:
            callback(
                CompilationEvent(
                    code_hash=code_hash(job.code),
                    code_size=len(job.code),
                    tier=job.tier,
                    backend=self.tiers[job.tier - 1].name,
                    outcome=outcome,
                    seconds=seconds,
                    phases={} if result is None else dict(result.phases),
                    nbytes=nbytes,
                    error=error,
                )
            )

    def _install(self, job: _Job, result: Compiled | None, outcome: Outcome, error: str) -> Outcome:
        """Settle a finished job (lock held); returns the final outcome."""
        entry, code = job.entry, job.code
        counters = self._counters
        try:
            if entry.pending == job.tier:
                entry.pending = 0
            current = self._entries.get(code) is entry
            if outcome == "done" and result is not None:
                for name, seconds in result.phases.items():
                    counters.phases[name] = counters.phases.get(name, 0.0) + seconds
                if result.nbytes > self.policy.cache_bytes:
                    outcome = "refused"
                    error = f"{result.nbytes:,} bytes of machine code exceed cache_bytes"
                elif not current or self._closed or entry.tier >= job.tier:
                    outcome = "abandoned"
            if outcome == "done" and result is not None:
                self._forget(code, entry)
                entry.tier = job.tier
                entry.executable = result.executable
                entry.nbytes = result.nbytes
                self._compiled[code] = entry
                self._bytes += result.nbytes
                self.stats.frames_compiled += 1
                self._evict_bytes(keep=code)
                counters.done += 1
                if self.persistent[job.tier - 1] is not None:
                    self._storing += 1  # until handed to the persistent cache (see wait_idle)
                self._promote_further(code, entry)
            elif outcome == "abandoned":
                counters.abandoned += 1
            else:
                entry.ceiling = min(entry.ceiling, entry.tier)
                self._remember_ceiling(code, entry.ceiling)
                if outcome == "refused":
                    counters.refused += 1
                    self.stats.compile_refusals += 1
                    self.stats.refusals[code] = error
                else:
                    if outcome == "timed_out":
                        counters.timed_out += 1
                    else:
                        counters.failed += 1
                    self.stats.compile_failures += 1
                    self.stats.failures[code] = error
            return outcome
        finally:
            self._pending -= 1
            if self._backlog:
                self._drain_backlog()
            self._idle.notify_all()

    # -- eviction ------------------------------------------------------------------

    def _evict(self, code: bytes) -> None:
        """Drop a compiled code and its counters: it has to turn hot again (lock held)."""
        entry = self._entries.pop(code, None)
        if entry is None:  # pragma: no cover - compiled entries are always tracked
            entry = self._compiled[code]
        self._forget(code, entry)

    def _evict_bytes(self, keep: bytes) -> None:
        compiled = self._compiled
        while self._bytes > self.policy.cache_bytes:
            oldest = next(iter(compiled))
            if oldest == keep:
                compiled.move_to_end(keep)
                oldest = next(iter(compiled))
                if oldest == keep:  # pragma: no cover - a lone code never exceeds the cap here
                    break
            self._evict(oldest)
            self._counters.evicted_bytes += 1

    def _evict_idle(self, now: float) -> None:
        self._swept = now
        limit = self.policy.idle_evict_seconds
        if limit is None:
            return
        compiled = self._compiled
        while compiled:
            code, entry = next(iter(compiled.items()))
            if now - entry.last_used < limit:
                break
            self._evict(code)
            self._counters.evicted_idle += 1

    def evict_idle(self) -> None:
        """Drop compiled code idle for ``idle_evict_seconds`` now (lookups do it as they go)."""
        with self._lock:
            self._evict_idle(time.monotonic())

    # -- telemetry and lifetime -------------------------------------------------------

    @property
    def tier_names(self) -> tuple[str, ...]:
        return ("interpreter", *(tier.name for tier in self.tiers))

    def tier_of(self, code: bytes) -> int:
        """The tier ``code`` runs on now (0 when interpreted or not tracked)."""
        with self._lock:
            entry = self._entries.get(code)
            return 0 if entry is None else entry.tier

    def settled(self) -> bool:
        """Whether every tracked code is on the highest tier it may reach, nothing pending."""
        with self._lock:
            return not self._pending and all(
                entry.tier >= entry.ceiling for entry in self._entries.values()
            )

    def snapshot(self) -> RuntimeStats:
        """The counters now."""
        with self._lock:
            c = self._counters
            return RuntimeStats(
                tiers=self.tier_names,
                lookups=c.lookups,
                hits=tuple(self._hits),
                promotions=tuple(self._promotions),
                queued=c.queued,
                done=c.done,
                failed=c.failed,
                refused=c.refused,
                timed_out=c.timed_out,
                abandoned=c.abandoned,
                rejected=c.rejected,
                pending=self._pending,
                backlog=len(self._backlog),
                remembered_refusals=c.remembered_refusals,
                evicted_bytes=c.evicted_bytes,
                evicted_idle=c.evicted_idle,
                cached_codes=len(self._compiled),
                cached_bytes=self._bytes,
                tracked=len(self._entries),
                loaded=tuple(self._loaded),
                phase_seconds=dict(c.phases),
            )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no compile is queued or running; False if ``timeout`` passed first.

        A finished compile counts until it is handed to its tier's persistent
        cache, so that a ``flush`` of that cache afterwards covers its write.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0 and not self._storing, timeout)

    def drain(self) -> None:
        """Wait for every queued compile to be installed (or to fail)."""
        self.wait_idle(None)

    def close(self) -> None:
        """Stop compiling: queued compiles are dropped, running ones killed, workers ended.

        Code already compiled keeps running; nothing is promoted afterwards.
        Called for every live cache at interpreter exit.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._backlog.clear()
            workers = list(self._workers)
            compilers = list(self._compilers)
        _LIVE.discard(self)
        dropped: list[_Job] = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                dropped.append(job)
        with self._lock:
            for job in dropped:
                self._install(job, None, "abandoned", "closed")
        for compiler in compilers:
            compiler.kill()
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.join(timeout=10)
        for compiler in compilers:
            compiler.close()
        if self._sync_compiler is not None:
            self._sync_compiler.close()


_WORKER_IDLE_SECONDS = 1.0
"""How often an idle worker checks whether its cache still exists."""


def lower_thread_priority(increment: int) -> bool:
    """Raise the calling thread's nice value by ``increment`` (at most to 19).

    Linux only: there the nice value belongs to the thread, and a process the
    thread starts (the compiler process, spawned on the worker's first job)
    inherits it.  Elsewhere ``setpriority`` would lower the whole process,
    frames included, so nothing is done.  Returns whether it was lowered.
    """
    if increment <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(19, current + increment))
    except OSError:  # pragma: no cover - lowering one's own priority is always allowed
        return False
    return True


def _work(
    cache_ref: weakref.ref[TieredCodeCache],
    jobs: queue.SimpleQueue[_Job | None],
    compiler: CompilerProcess | None,
    nice: int = 0,
) -> None:
    """A worker: take jobs until told to stop or the cache is gone.

    It holds the cache only while a job runs, so an unused VM class (and its
    cache) can be collected; the worker then ends and its compiler process
    with it.  The worker and the compiler process it starts run ``nice``
    below this process (``RuntimePolicy.compiler_nice``).
    """
    lower_thread_priority(nice)
    try:
        while True:
            try:
                job = jobs.get(timeout=_WORKER_IDLE_SECONDS)
            except queue.Empty:
                if cache_ref() is None:
                    return
                continue
            if job is None:
                return
            cache = cache_ref()
            if cache is None:
                return
            cache._run(job, compiler)
            del cache
    finally:
        if compiler is not None:
            compiler.close()
