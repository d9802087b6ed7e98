"""A py-evm VM whose frames run compiled code.

:func:`make_vm_class` returns a subclass of the fork's py-evm VM class
(``CancunVM``, ``PragueVM``, or evmkiln's ``OsakaVM``; see
:mod:`evmkiln.forks`) with the same constructor and API.  The seam it
uses is the one py-evm itself offers forks: the state class's computation
class, whose ``apply_message`` and ``apply_computation`` run one message.
The same three subclasses are made for every fork, from the fork's table
entry.  A call's message runs on evmkiln's message path
(:mod:`evmkiln.context.message_path`): py-evm's layers for snapshot, value
transfer and frame in one function, with the same effects.  Everything else
(transaction validation and fees, creates and code deposit, refunds,
self-destruct sweeps) stays py-evm's own, so compiled frames differ from
interpreted ones only in how the bytecode itself executes.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping
from itertools import count, islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import OutOfGas
from eth.vm.forks.cancun import CancunVM
from eth.vm.message import Message
from eth.vm.transaction_context import BaseTransactionContext
from eth_typing import Address

from evmkiln.codegen.backend import Backend, CompileOptions, Executable
from evmkiln.context.artifact_store import LazyArtifacts, LoadCallback, load_artifacts
from evmkiln.context.block_copies import LeanNewHeaders
from evmkiln.context.block_tries import OneShotBlockTries
from evmkiln.context.code_cache import (
    DEFAULT_MAX_ENTRIES,
    CodeCache,
    DispatchStats,
    Lowering,
    lower_with_pipeline,
)
from evmkiln.context.disk_cache import may_write_artifacts, open_disk_cache
from evmkiln.context.executable_declines import declines_reason
from evmkiln.context.lean_computation import LazyFrameParts
from evmkiln.context.message_building import quiet_message_building
from evmkiln.context.message_path import (
    INEXACT,
    apply_call_message,
    lean_message_path,
    no_keccak_hook,
    no_storage_write_hook,
    run_compiled,
)
from evmkiln.context.pyevm_host import gas_remaining
from evmkiln.context.receipts import FastBloomReceipts
from evmkiln.context.registry import DeferredBackend, get_backend
from evmkiln.context.runtime import (
    BLOCKING,
    CompilationCallback,
    RuntimePolicy,
    Tier,
    TieredCodeCache,
)
from evmkiln.context.spoofed_transactions import RememberingSpoofs
from evmkiln.context.state_class import flat_state_class
from evmkiln.context.state_clearing import linear_state_clearing
from evmkiln.context.state_layers import StateLayers
from evmkiln.context.transaction_classes import block_class_for
from evmkiln.forks import DEFAULT_FORK, ForkSpec, fork_spec
from evmkiln.forks.opcode_table import OpcodeTable, is_pyevm_opcode, own_table
from evmkiln.forks.precompiles import with_native_precompiles

_COMPILE_OPTION_FIELDS = frozenset(
    f.name for f in dataclasses.fields(CompileOptions) if f.name != "extra"
)


if TYPE_CHECKING:
    from eth.vm.forks.cancun.computation import CancunComputation as _ForkComputation
else:
    _ForkComputation = object


_opcode_verdicts: dict[int, tuple[list[Any], str | None]] = {}


def patched_opcode(opcodes: Mapping[int, Any], tolerated: tuple[type, ...] = ()) -> str | None:
    """Why a computation class with this opcode table must interpret, or None.

    py-evm's own opcodes are :class:`~eth.abc.OpcodeAPI` objects or functions
    of py-evm's modules (Cancun's deprecated SELFDESTRUCT); anything else in
    the table was put there by a tool (titanoboa's tracers and
    ``patch_opcode``), and compiled code would silently skip it.  Instances of
    ``tolerated`` types are ones whose effect the caller reproduces or accepts.
    Tools patch the table in place: an :class:`~evmkiln.forks.opcode_table.OpcodeTable`
    (every evmkiln VM class has one) knows its foreign entries at no cost;
    another table's verdict is cached and recomputed whenever its entries
    change.
    """
    if isinstance(opcodes, OpcodeTable):
        for value, fn in opcodes.foreign():
            if not isinstance(fn, tolerated):
                return f"opcode 0x{value:02x} patched ({type(fn).__name__})"
        return None
    values = list(opcodes.values())
    cached = _opcode_verdicts.get(id(opcodes))
    if cached is not None and cached[0] == values:
        return cached[1]
    verdict = None
    for value, fn in sorted(opcodes.items()):
        if not is_pyevm_opcode(fn) and not isinstance(fn, tolerated):
            verdict = f"opcode 0x{value:02x} patched ({type(fn).__name__})"
            break
    _opcode_verdicts[id(opcodes)] = (values, verdict)
    return verdict


class CompiledFrames(LazyFrameParts, _ForkComputation):
    """Mixed into a fork's computation class: runs each frame's code through the code cache.

    Configured per VM class by :func:`make_vm_class` (``code_cache``,
    ``stats``, ``fork``); the fork's own computation class comes after it in
    the bases and does everything else, interpreting included.

    Tools subclass the computation class a state carries (titanoboa does);
    compiled frames are still built as ``cls(...)``, so such a subclass's
    constructor, gas meter and attributes apply to them.  What compiled code
    cannot honour -- opcodes the subclass replaced, a program-counter trace --
    sends the frame to the interpreter instead: :meth:`interpret_reason`
    decides, and ``stats.interpreted_for`` counts the frames by reason.
    """

    code_cache: ClassVar[CodeCache | TieredCodeCache]
    stats: ClassVar[DispatchStats]
    fork: ClassVar[ForkSpec]
    _kiln_lean_class: ClassVar[type | None] = None
    """The class that takes the lean message path (:func:`runs_lean`): the class
    ``make_vm_class`` made, never a subclass of it."""
    tolerated_opcodes: ClassVar[tuple[type, ...]] = ()
    """Types of patched opcodes that do not stop frames compiling (see :func:`patched_opcode`)."""

    @classmethod
    def interpret_reason(cls, message: Any) -> str | None:
        """Why ``message``'s frame must run on the interpreter although its code compiled.

        The default looks for patched opcodes in the class's table;
        integrations extend it with what their tool observes.
        """
        return patched_opcode(cls.opcodes, cls.tolerated_opcodes)

    storage_write_hook = classmethod(no_storage_write_hook)
    keccak_hook = classmethod(no_keccak_hook)

    replays_inexact_halts: ClassVar[bool] = False
    """Run a message again, its frame interpreted, when compiled code halted it with an
    error py-evm would word (or class) differently (see :meth:`apply_message`)."""

    replays_out_of_gas: ClassVar[bool] = False
    """Count out of gas among those halts: its class is py-evm's anyway, only the
    amounts in its text differ, and replaying costs an interpreted run of the frame."""

    counts_gas: ClassVar[bool] = False
    """Report each frame's gas to the code cache (``charge``): a tiered runtime's hotness."""

    compiles_initcode: ClassVar[bool] = True
    """Look creation code up in the code cache (else it always runs interpreted)."""

    @classmethod
    def apply_message(
        cls,
        state: Any,
        message: Any,
        transaction_context: Any,
        parent_computation: Any = None,
    ) -> Any:
        """py-evm's ``apply_message``, again with the frame interpreted after an inexact halt.

        A call of the class ``make_vm_class`` made runs on
        :func:`~evmkiln.context.message_path.apply_call_message` (the same
        steps); a create, or a tool's subclass, on py-evm's own.

        An exceptional halt burns the frame's gas and py-evm reverts the
        message, so running the same message again from the same state
        gives the same outcome, now with py-evm's own exception: its class
        and text exactly (:func:`~evmkiln.context.halt_map.is_inexact` says
        when they could differ).  Only that frame is interpreted; its
        children run compiled as before.  Counted in
        ``stats.interpreted_for`` under :data:`REPLAY_REASON`.

        Only the top frame (depth 0: the error a transaction or a tool's
        call reports) is replayed.  Replaying inner frames too would cost
        exponentially in the depth: a frame at depth ``k`` that halts after
        its child would run the child's replay again in its own replay, so
        1,024 nested frames that each halt inexactly would run the deepest
        one 2^1024 times.  One replay costs at most the compiled run again
        plus the interpreted top frame.
        """
        lean = cls._kiln_lean_class is cls  # runs_lean(cls)
        if lean and (  # and a call
            message.to != CREATE_CONTRACT_ADDRESS
            if type(message) is Message
            else not message.is_create
        ):
            computation = apply_call_message(
                cls, state, message, transaction_context, parent_computation
            )
        else:
            computation = super().apply_message(
                state, message, transaction_context, parent_computation
            )
        if (
            cls.replays_inexact_halts
            and message.depth == 0
            # ``is_error``, read where the class (py-evm's, as made) keeps it.
            and (computation._error is not None if lean else computation.is_error)
            and getattr(computation.error, INEXACT, False)
            and (cls.replays_out_of_gas or not isinstance(computation.error, OutOfGas))
        ):
            replays = _messages_to_replay()
            replays.add(id(message))
            try:
                computation = super().apply_message(
                    state, message, transaction_context, parent_computation
                )
            finally:
                replays.discard(id(message))
        return computation

    @classmethod
    def apply_computation(
        cls,
        state: Any,
        message: Any,
        transaction_context: Any,
        parent_computation: Any = None,
    ) -> Any:
        code = message.code
        executable: Executable | None = None
        counted = False
        lean = cls._kiln_lean_class is cls  # runs_lean(cls)
        if lean and type(message) is Message:
            # ``code_address``, ``get_precompiles()`` and ``is_create``, read where kept.
            code_address = message._code_address
            if code_address is None:
                code_address = message.to
            precompiles = cls._precompiles or {}
            is_create = message.to == CREATE_CONTRACT_ADDRESS
        else:
            code_address, precompiles = message.code_address, cls.get_precompiles()
            is_create = message.is_create
        if code and code_address not in precompiles and (cls.compiles_initcode or not is_create):
            executable = cls.code_cache.get(code)
            if executable is not None:
                reason = _interpret_reason(cls, message)
                if reason is None and message.gas > MAX_NATIVE_GAS:
                    reason = BEYOND_NATIVE_GAS
                if reason is None and _REPLAYS.messages and id(message) in _REPLAYS.messages:
                    reason = REPLAY_REASON
                if reason is None:
                    declines = getattr(executable, "declines", None)
                    if declines is not None:
                        reason = declines_reason(declines, message.depth)
                if reason is not None:
                    executable = None
                    counts = cls.stats.interpreted_for
                    counts[reason] = counts.get(reason, 0) + 1
            counted = cls.counts_gas
        elif (
            not code
            and lean
            and code_address not in precompiles
            and _interpret_reason(cls, message) is None
        ):
            # Nothing to run (a call to an account without code, a create with empty
            # initcode): py-evm's interpreter would execute one implicit STOP.
            cls.stats.frames_without_code += 1
            return run_compiled(
                cls, state, message, transaction_context, parent_computation, None, lean=True
            )
        if executable is None:
            cls.stats.frames_interpreted += 1
            interpreted = super().apply_computation(
                state, message, transaction_context, parent_computation
            )
            if counted:
                cls.code_cache.charge(code, message.gas - gas_remaining(interpreted))
            return interpreted

        stats = cls.stats
        stats.frames_run_compiled += 1
        if code in cls.code_cache.aot_codes:
            stats.frames_run_aot += 1
        computation = run_compiled(
            cls, state, message, transaction_context, parent_computation, executable, lean=lean
        )
        if counted:
            cls.code_cache.charge(code, message.gas - gas_remaining(computation))
        return computation

    def add_checked_log_entry(self, account: bytes, topics: tuple[int, ...], data: bytes) -> None:
        """``add_log_entry`` for a log compiled code emitted, which is valid by construction.

        py-evm's method validates the address, every topic and the data on each
        call, which costs more than the rest of a buffered log's trip from
        native code; the builtins only ever pass a 20-byte address, topics
        that are words and ``bytes`` data.  The entry is the one py-evm records.
        """
        self._log_entries.append(
            (self.transaction_context.get_next_log_counter(), Address(account), topics, data)
        )

    def add_checked_log_entries(
        self, account: bytes, logs: list[tuple[tuple[int, ...], bytes]]
    ) -> None:
        """:meth:`add_checked_log_entry` for each of ``logs`` (topics, data), in order.

        For a batch of several logs, while the context numbers logs as py-evm's
        does (its class's method, not replaced on the instance, drawing from an
        ``itertools.count``), the counters are drawn from that count in one
        ``islice``: the same numbers in the same order, without a method call
        per log.  Otherwise the context is asked once per log, as py-evm asks.
        """
        address = Address(account)
        context: Any = self.transaction_context
        if (
            len(logs) >= _BATCHED_COUNTERS
            and type(context).get_next_log_counter is _NEXT_LOG_COUNTER
            and "get_next_log_counter" not in getattr(context, "__dict__", ())
            and type(context._log_counter) is count
        ):
            topics, data = zip(*logs, strict=True)
            counters = islice(context._log_counter, len(logs))
            self._log_entries.extend(zip(counters, repeat(address), topics, data))
        else:
            next_counter = context.get_next_log_counter
            self._log_entries.extend([(next_counter(), address, t, d) for t, d in logs])


_NEXT_LOG_COUNTER = BaseTransactionContext.get_next_log_counter
_BATCHED_COUNTERS = 4
"""Logs from which drawing the counters in one ``islice`` costs less than deciding
whether it may (a frame's usual one or two logs ask the context each)."""

REPLAY_REASON = "replaying an inexact halt for py-evm's error"
_DEFAULT_INTERPRET_REASON: Any = CompiledFrames.interpret_reason.__func__  # type: ignore[attr-defined]


MAX_NATIVE_GAS = (1 << 63) - 1
"""The most gas a compiled frame starts with: the native backends count gas in a signed
64-bit word.  A top-level message may bring more (py-evm takes any gas a block's limit
allows, and ``execute_bytecode`` any at all); a frame with more is interpreted, and so
is each child that is still given more (all but a 64th of its parent's)."""
BEYOND_NATIVE_GAS = "gas beyond a native counter's 2**63 - 1"


def _interpret_reason(cls: Any, message: Any) -> str | None:
    """``cls.interpret_reason(message)``; the default's answer (None) is known without
    asking while the class keeps the default and no tool has touched its opcode table."""
    opcodes = cls.opcodes
    if (
        type(opcodes) is OpcodeTable
        and opcodes.known_own
        and getattr(cls.interpret_reason, "__func__", None) is _DEFAULT_INTERPRET_REASON
    ):
        return None
    return cls.interpret_reason(message)  # type: ignore[no-any-return]


class _Replays(threading.local):
    """Messages being run again with their frame interpreted, by ``id``, per thread."""

    messages: set[int] | None = None


_REPLAYS = _Replays()


def _messages_to_replay() -> set[int]:
    messages = _REPLAYS.messages
    if messages is None:
        messages = _REPLAYS.messages = set()
    return messages


def _compile_options(options: dict[str, Any]) -> CompileOptions:
    known = {k: v for k, v in options.items() if k in _COMPILE_OPTION_FIELDS}
    extra = {k: v for k, v in options.items() if k not in _COMPILE_OPTION_FIELDS}
    return CompileOptions(**known, extra=extra)


def _tiers(policy: RuntimePolicy, backend: Backend, options: CompileOptions) -> list[Tier]:
    """The compiled tiers of ``policy`` under ``backend``, lowest first."""
    names = policy.tier_backends(backend.name)
    if len(names) == 1:
        return [Tier(backend, options)]
    fast_name = names[0]
    fast_backend = backend if fast_name == backend.name else DeferredBackend(fast_name)
    fast_options = options
    if policy.fast_tier_opt_level is not None:
        fast_options = dataclasses.replace(options, opt_level=policy.fast_tier_opt_level)
    return [Tier(fast_backend, fast_options), Tier(backend, options)]


def make_vm_class(
    backend: str | Backend = "ir",
    fork: str = DEFAULT_FORK,
    *,
    lower: Lowering = lower_with_pipeline,
    artifacts: Path | str | None = None,
    preload: bool = True,
    on_artifact_load: LoadCallback | None = None,
    strict_aot: bool = False,
    interpret_on_compile_error: bool = True,
    cache_size: int = DEFAULT_MAX_ENTRIES,
    flat_state: bool = True,
    state_layers: StateLayers | None = None,
    runtime: RuntimePolicy | None = None,
    on_compilation: CompilationCallback | None = None,
    persistent_cache: bool | None = None,
    code_cache_dir: Path | str | None = None,
    code_cache_bytes: int | None = None,
    replay_inexact_halts: bool = True,
    replay_out_of_gas: bool = False,
    **options: Any,
) -> type[CancunVM]:
    """A subclass of ``fork``'s VM class whose frames run code compiled by ``backend``.

    ``fork`` is one of :data:`~evmkiln.forks.SUPPORTED_FORKS`, by default
    :data:`~evmkiln.forks.DEFAULT_FORK` (Osaka, the latest mainnet fork).  The
    fork also selects the opcode table code is lowered with (CLZ exists from
    Osaka on).

    ``backend`` is a registered backend name (see
    :func:`~evmkiln.context.registry.get_backend`) or a backend object.  Under
    a tiered ``runtime`` a named backend is imported at its first compile or
    cache load (:class:`~evmkiln.context.registry.DeferredBackend`), not here.
    ``options`` become the :class:`CompileOptions` (``opt_level``,
    ``gas_metering``; anything else goes to ``extra``).  ``lower`` turns
    bytecode into IR; it defaults to codegen's pipeline and exists so that the
    context can be exercised with a stand-in compiler.

    ``artifacts`` names a directory of code compiled ahead of time (``evmkiln
    compile``); the backend loads every artifact of its own there, keyed by
    code hash, and those contracts are never compiled (``stats.aot_loaded``,
    ``stats.frames_run_aot``).  An artifact built for another fork, compiler,
    option set or CPU raises :class:`~evmkiln.codegen.artifact_errors.ArtifactError`
    here.  With ``preload=False`` the directory is only listed and each
    artifact is loaded the first time its code runs
    (:class:`~evmkiln.context.artifact_store.LazyArtifacts`): for directories
    far larger than what one process runs; an unusable artifact then raises
    at that first use, and ``stats.aot_loaded`` counts loads as they happen.
    ``on_artifact_load(code_hash, seconds)`` is called after each lazy load
    (e.g. to time them).  ``strict_aot=True`` (with ``artifacts``) refuses to compile
    anything else: such code raises
    :class:`~evmkiln.context.artifact_store.AotRequiredError`.

    Code that fails to compile runs on py-evm's interpreter and is counted in
    ``stats.compile_failures``; with ``interpret_on_compile_error=False`` it
    raises :class:`~evmkiln.context.code_cache.CompileFailedError` instead
    (what conformance and differential runs want).  Code over its compile
    budget (:mod:`evmkiln.codegen.budget`) is interpreted either way, counted
    in ``stats.compile_refusals``.  ``cache_size`` bounds how
    many distinct codes stay compiled (least recently used dropped first).

    ``flat_state`` (on by default) gives the state class evmkiln's flat,
    journaled account database (:mod:`evmkiln.context.flat_state`) over the
    fork's own, and its transient storage
    (:mod:`evmkiln.context.transient_storage`); ``state_layers`` is where it
    remembers the state by root across state objects (new and private to the
    class by default, bounded; ``vm_class.state_layers``).  Off, the state is py-evm's own.

    ``runtime`` chooses when code is compiled (:mod:`evmkiln.context.runtime`).
    Without one (or with ``mode="blocking"``) every code is compiled by
    ``backend`` on first sight, before it runs, in the caller's thread: what
    tests, conformance runs and steady-state benchmarks want.  Applications
    should pass ``runtime=RuntimePolicy()``: code is interpreted until hot,
    then compiled in compiler processes in the background, by a fast tier
    first (``wasm`` under ``llvm``) and by ``backend`` once hotter; a
    workload of many contracts run a few times each is then never slower
    than the interpreter.  ``vm_class.code_cache`` is then a
    :class:`~evmkiln.context.runtime.TieredCodeCache` (``snapshot()``,
    ``wait_idle()``, ``close()``), and ``on_compilation(event)`` is called
    after each compile, on the thread that ran it.  ``cache_size`` and
    ``interpret_on_compile_error`` apply to blocking mode only: the tiered
    cache is bounded by the policy's ``cache_bytes``, and a failed
    background compile always leaves the code on its lower tier.

    Compiled code is also kept across processes in a persistent code cache
    (:mod:`evmkiln.context.disk_cache`): a later process loads it instead of
    compiling (``stats.cache_loaded``; a corrupt or mismatched entry is
    refused, counted in ``stats.cache_rejected`` and recompiled).  It is on
    by default for backends that can write artifacts (``llvm``, ``wasm``),
    with the standard lowering, unless ``EVMKILN_CACHE=off``;
    ``persistent_cache=False`` turns it off, ``True`` turns it on whatever
    the environment says (and with a custom ``lower``, whose output the
    cache's key does not describe: the caller vouches for it).  The
    directory is ``code_cache_dir``, else ``EVMKILN_CACHE_DIR``, else the
    per-user cache directory; ``code_cache_bytes`` caps it (else
    ``EVMKILN_CACHE_MAX_BYTES``, else 512 MiB).  Writes happen in the
    background: ``vm_class.disk_cache.flush()`` waits for them
    (``vm_class.disk_cache`` is ``None`` when the cache is off).  Under a
    tiered ``runtime`` each compiled tier has its cache: a code an earlier
    process compiled starts on that tier at first sight, and only what got
    hot enough to be compiled is written.

    Errors are py-evm's exception classes with py-evm's text.  Where compiled
    code cannot know the text (which instruction underflowed the stack, the
    position of one of several INVALIDs, ...) or the class (a jump into PUSH
    data), a top-level message is run again with its frame on the
    interpreter, from the same state, and the error is py-evm's own
    (``stats.interpreted_for[REPLAY_REASON]``).  ``replay_inexact_halts=False``
    keeps compiled code's own error: what differential tests of the compiler
    want.

    Out of gas is py-evm's class either way; its text holds amounts (the
    interpreter's position in the frame) that compiled code shows as ``?``.
    ``replay_out_of_gas=True`` replays such a top frame too, for the exact
    text, at the price of an interpreted run of it (what stock py-evm spends
    on it): tools whose users match on the text turn it on (the eth-tester
    integration does); by default a transaction that runs out of gas keeps
    compiled speed (docs/integrations.md).

    Each call returns fresh classes with their own code cache and
    :class:`DispatchStats` (``vm_class.stats``).
    """
    spec = fork_spec(fork)  # ValueError for a fork evmkiln does not know
    fork = spec.name
    standard_lowering = lower is lower_with_pipeline
    if standard_lowering:
        lower = functools.partial(lower_with_pipeline, fork=fork)
    policy = runtime or BLOCKING
    backend_obj: Backend
    if not isinstance(backend, str):
        backend_obj = backend
    elif policy.mode == "blocking":
        backend_obj = get_backend(backend)  # it compiles the first code it meets
    else:
        # Code starts interpreted and may never get hot: import the backend at
        # its first compile (or cache load), not now.
        backend_obj = DeferredBackend(backend)
    if strict_aot and artifacts is None:
        raise ValueError("strict_aot=True needs an artifacts directory")
    stats = DispatchStats()
    compile_options = _compile_options(options)
    if on_artifact_load is not None and (artifacts is None or preload):
        raise ValueError("on_artifact_load needs artifacts loaded lazily (preload=False)")
    loaded: Mapping[bytes, Executable] = {}
    if artifacts is not None and preload:
        loaded = load_artifacts(backend_obj, artifacts, fork=fork, options=compile_options)
        stats.aot_loaded = len(loaded)
    elif artifacts is not None:

        def count_load(digest: bytes, seconds: float) -> None:
            stats.aot_loaded += 1
            if on_artifact_load is not None:
                on_artifact_load(digest, seconds)

        loaded = LazyArtifacts(
            backend_obj, artifacts, fork=fork, options=compile_options, on_load=count_load
        )
    if persistent_cache is None and not standard_lowering:
        persistent_cache = False  # the cache's key does not describe another lowering
    disk = open_disk_cache(
        backend_obj,
        fork=fork,
        options=compile_options,
        stats=stats,
        enabled=persistent_cache,
        directory=code_cache_dir,
        max_bytes=code_cache_bytes,
    )
    cache: CodeCache | TieredCodeCache
    if policy.mode == "blocking":
        if on_compilation is not None:
            raise ValueError("on_compilation needs a tiered runtime policy")
        cache = CodeCache(
            backend_obj,
            compile_options,
            stats,
            lower,
            artifacts=loaded,
            strict=strict_aot,
            fallback=interpret_on_compile_error,
            max_entries=cache_size,
            persistent=disk,
        )
    else:
        tiers = _tiers(policy, backend_obj, compile_options)
        # Each tier keeps its own entries (the key holds backend and options).  The top
        # tier is this VM class's backend and options, whose cache is ``disk``; a lower
        # tier has one when the cache is on and its backend can write artifacts.
        persistent = [
            open_disk_cache(
                tier.backend,
                fork=fork,
                options=tier.options,
                stats=stats,
                enabled=persistent_cache,
                directory=code_cache_dir,
                max_bytes=code_cache_bytes,
            )
            if disk is not None and may_write_artifacts(tier.backend)
            else None
            for tier in tiers[:-1]
        ]
        persistent.append(disk)
        cache = TieredCodeCache(
            tiers,
            policy,
            stats,
            fork=fork,
            lower=None if standard_lowering else lower,
            artifacts=loaded,
            strict=strict_aot,
            on_compilation=on_compilation,
            persistent=persistent,
        )
    label = "".join(part.capitalize() for part in backend_obj.name.replace("-", "_").split("_"))

    fork_label = fork.capitalize()
    computation_class = type(
        f"Kiln{label}{fork_label}Computation",
        (CompiledFrames, spec.computation_class),
        {
            "code_cache": cache,
            "stats": stats,
            "fork": spec,
            "counts_gas": isinstance(cache, TieredCodeCache),
            "compiles_initcode": policy.compile_initcode,
            "replays_inexact_halts": replay_inexact_halts,
            "replays_out_of_gas": replay_out_of_gas,
            # A table of its own: what tools patch into py-evm's shared table (or into
            # another VM class's) does not reach this class, nor the other way round.
            "opcodes": own_table(spec.computation_class.opcodes),
            # py-evm's precompiles, with evmkiln's versions of the slow ones (same results).
            "_precompiles": with_native_precompiles(spec.computation_class._precompiles),
        },
    )
    # This very class takes the lean message path; a tool's subclass does not.
    if lean_message_path(spec.computation_class):
        computation_class._kiln_lean_class = computation_class  # type: ignore[attr-defined]
    state_name = f"Kiln{label}{fork_label}State"
    layers: StateLayers | None = None
    if flat_state:
        layers = state_layers if state_layers is not None else StateLayers()
        state_class = flat_state_class(
            spec.state_class, layers, state_name, computation_class=computation_class
        )
    else:
        state_class = type(
            state_name,
            (spec.state_class,),
            {
                "computation_class": computation_class,
                "transaction_executor_class": quiet_message_building(
                    linear_state_clearing(spec.state_class.transaction_executor_class)
                ),
            },
        )
    vm_class: type[CancunVM] = type(
        f"Kiln{label}{fork_label}VM",
        (RememberingSpoofs, OneShotBlockTries, FastBloomReceipts, LeanNewHeaders, spec.vm_class),
        {
            "_state_class": state_class,
            "block_class": block_class_for(spec.vm_class.block_class),
            "stats": stats,
            "code_cache": cache,
            "disk_cache": disk,
            "backend": backend_obj,
            "state_layers": layers,
            "runtime": policy,
        },
    )
    return vm_class
