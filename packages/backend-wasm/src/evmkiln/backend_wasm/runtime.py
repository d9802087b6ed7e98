"""Running a compiled module on a :class:`Frame`: engine, instance slots, the host handler.

One :class:`CompiledContract` owns a wasmtime ``Store`` and a pool of
:class:`_Slot` instances of its module.  A run borrows a free slot (or
instantiates a new one) and returns it afterwards, so a contract that calls
itself -- a builtin re-entering this executable through the host -- gets a
fresh instance instead of clobbering the running one's memory.  Before every
run the slot's EVM memory, stack buffer and control area are reset, so
nothing leaks from one frame into the next.

Deep nesting: each nested EVM frame re-enters wasm from inside a host
crossing, so one call level costs its wasm frame plus the host's native
frames (about 4.5 KiB with a trivial host, more under py-evm); 1024 levels
need several MiB of native stack.  wasmtime's ``max_wasm_stack`` is raised
to :data:`MAX_WASM_STACK`, and native stack is guarded here rather than
trusted: a top-level run stays on its thread only if that thread's stack is
at least :data:`INLINE_STACK` (the state-test worker's is 512 MiB), otherwise
it runs on a helper thread with a :data:`HELPER_STACK` stack; and a nested
run starts only if at least :data:`NESTED_RESERVE` bytes of native stack
remain below the crossing that started it (the crossing's argument array
lives in wasmtime's trampoline frame, so its address is the depth gauge).
Otherwise :class:`~.host_bridge.WasmStackExhaustedError` is raised -- a
clear error, never a segfault.

Memory: by default each instance reserves wasmtime's full range for a 32-bit
linear memory (4 GiB plus 32 MiB guard regions on either side) so that
Cranelift can drop every bounds check and the memory never moves.  A process
with an address-space limit (``RLIMIT_AS``, ``ulimit -v``) cannot afford that:
the first instance alone exceeds an 8 GiB limit, and nested frames keep one
instance each.  There the engine reserves only what a memory uses
(:data:`MEMORY_MODES`, chosen by :func:`memory_mode`), Cranelift checks every
access explicitly, and a memory moves when it grows.  Generated code
therefore never grows its memory itself: it asks the host (``HOST_GROW``),
and the slot grows it -- by half again at least, so that a memory grown page
by page is copied a logarithmic number of times -- and re-reads its address.
A refused growth (the process is out of address space) raises
:class:`~.host_bridge.WasmMemoryError`, never an EVM outcome.

Builtins see an ordinary :class:`Frame`: around each crossing the handler
copies the gas counter in and out, and while the frame runs ``frame.memory``
is a :class:`LinearMemoryView` of the instance's linear memory, so a builtin
copies only the range it reads or writes; the frame gets a bytearray copy of
its memory once, when the run ends.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import queue
import resource
import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import wasmtime

from evmkiln.backend_wasm.host_bridge import (
    FastCall,
    HostImport,
    WasmMemoryError,
    WasmStackExhaustedError,
    address_of,
    memory_address,
    set_async_stack_size,
)
from evmkiln.backend_wasm.layout import (
    ARGS,
    CALLDATA,
    CALLDATA_WINDOW,
    CTRL_GAS,
    CTRL_GROW,
    CTRL_LOG_LEN,
    CTRL_MSIZE,
    CTRL_OUT_OFFSET,
    CTRL_OUT_SIZE,
    CTRL_REFUND,
    CTRL_SL_GEN,
    CTRL_STATIC,
    HOST_GROW,
    MAX_PAGES,
    MSG_CALLDATA_LEN,
    MSG_RETURNDATA_LEN,
    MSG_VALUE,
    PAGE,
    SL_DIRTY,
    SL_ENTRY,
    SL_FLAGS,
    SL_GENERATION,
    SL_ORIGINAL_KNOWN,
    SL_TRANSIENT,
    SL_VALUE,
    SLOTS,
    STATUS_HALT_BASE,
    STATUS_HOST_HALT,
    log_buffer,
    slot_index,
)
from evmkiln.backend_wasm.leaf import runs_no_frames
from evmkiln.backend_wasm.native_stack import stack_left
from evmkiln.backend_wasm.native_stack import thread_stack as _native_stack
from evmkiln.backend_wasm.translate import BUILTIN_IDS
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.impl.storage import sload_with_original, sstore_with_original
from evmkiln.builtins.kept_tables import keep_bounded, worth_keeping
from evmkiln.builtins.log_entries import decode_entries
from evmkiln.builtins.memory_view import ZERO_RUN, ZEROS, NativeMemoryView
from evmkiln.builtins.message_words import message_words
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.compiler_process import CompileLimits, CompilerProcess, shared_compiler

_ENGINE: wasmtime.Engine | None = None
_FAST_ENGINE: wasmtime.Engine | None = None

MEMORY_MODE_ENV = "EVMKILN_WASM_MEMORY"
"""Environment variable naming the memory mode: ``auto`` (the default),
``reserved`` or ``compact`` (see :func:`memory_mode`)."""
MEMORY_MODES: dict[str, dict[str, bool | int | str]] = {
    # wasmtime's defaults for 32-bit memories, spelled out: the whole 4 GiB
    # range plus guards, so every access is in bounds by construction (no
    # checks in the code) and the memory never moves.  4160 MiB of address
    # space per instance.
    "reserved": {
        "memory_reservation": 1 << 32,
        "memory_guard_size": 32 << 20,
        "memory_may_move": False,
    },
    # Only the pages in use, no guards: an instance of a small contract takes
    # 576 KiB of address space (448 KiB of it the storage table).  Cranelift
    # bounds-checks every load and store (with its Spectre mitigation), and growth
    # may move the memory.
    "compact": {
        "memory_reservation": 0,
        "memory_guard_size": 0,
        "memory_reservation_for_growth": 0,
        "memory_may_move": True,
    },
}
"""The memory settings of each mode: ``wasmtime.Config`` attributes."""


def memory_mode() -> str:
    """The memory mode for this process: :data:`MEMORY_MODE_ENV`, else by ``RLIMIT_AS``.

    ``auto`` picks ``compact`` whenever the process has an address-space
    limit.  A reserved instance takes 4160 MiB, and a 1024-deep recursion
    keeps 1024 of them alive beside up to :data:`MAX_IDLE_INSTANCES` idle
    ones, more than any finite limit worth setting; without a limit the
    reservation costs nothing and saves the bounds checks (snailtracer runs
    about 1.5x as long with them).
    """
    value = os.environ.get(MEMORY_MODE_ENV, "").strip().lower() or "auto"
    if value == "auto":
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        return "reserved" if soft == resource.RLIM_INFINITY else "compact"
    if value not in MEMORY_MODES:
        choices = ", ".join(["auto", *MEMORY_MODES])
        raise ValueError(f"{MEMORY_MODE_ENV}={value!r}: expected one of {choices}")
    return value


MEMORY_MODE = memory_mode()
"""This process's memory mode, decided when the module is first imported."""
ENGINE_SETTINGS: dict[str, bool | int | str] = {
    "wasm_wide_arithmetic": True,
    "wasm_bulk_memory": True,
    "wasm_multi_value": True,
    "cranelift_opt_level": "speed",
    # A copy-on-write image of a module's data segments (the jump table, the code)
    # would hold a file open for each module while it is cached: thousands of cached
    # contracts exhaust the descriptors a process may have.  Instances are pooled
    # per contract, so copying the segments at instantiation costs little.
    "memory_init_cow": False,
    **MEMORY_MODES[MEMORY_MODE],
}
"""``wasmtime.Config`` attributes that shape the machine code or how modules are
loaded: one table, so that AOT metadata records exactly what :func:`engine` sets (a
module compiled in one memory mode cannot run in the other)."""
MAX_WASM_STACK = 64 << 20
"""wasmtime's limit on wasm stack per store (host frames in between count)."""
INLINE_STACK = 64 << 20
"""A top-level run stays on a thread whose native stack is at least this big."""
HELPER_STACK = 256 << 20
"""Native stack of the helper thread a top-level run moves to otherwise."""
NESTED_RESERVE = 4 << 20
"""Native stack that must remain for a nested run to start (one level's wasm
frame is bounded by the run function's locals; the host's share is small)."""
GAS_LIMIT = 1 << 63
"""Gas is an i64 in generated code; frames never carry this much."""

if sys.byteorder != "little":  # pragma: no cover - wasmtime's hosts are little-endian
    raise ImportError("the wasm runtime reads linear memory's words in native byte order")


def _word(offset: int) -> int:
    """The index in the header's word view of the 64-bit word at byte ``offset``."""
    if offset % 8:  # pragma: no cover - the layout is fixed in layout.py
        raise RuntimeError(f"the wasm layout's offset {offset} is not 8-byte aligned")
    return offset // 8


_W_GAS, _W_MSIZE, _W_OUT_OFFSET, _W_OUT_SIZE = map(
    _word, (CTRL_GAS, CTRL_MSIZE, CTRL_OUT_OFFSET, CTRL_OUT_SIZE)
)
_W_SL_GEN, _W_GROW, _W_STATIC, _W_REFUND, _W_LOG_LEN = map(
    _word, (CTRL_SL_GEN, CTRL_GROW, CTRL_STATIC, CTRL_REFUND, CTRL_LOG_LEN)
)
_W_CALLDATA_LEN, _W_RETURNDATA_LEN = _word(MSG_CALLDATA_LEN), _word(MSG_RETURNDATA_LEN)
_W_FLAGS = _word(SL_FLAGS)
"""An entry's flags word, counted from the entry's first word."""
_word(SLOTS), _word(SL_ENTRY)  # entries start on words too

_BUILTIN_TABLE = [
    (IMPLEMENTATIONS[name], struct.Struct("32s" * len(BUILTINS[name].params)).unpack_from)
    for name in sorted(BUILTIN_IDS, key=BUILTIN_IDS.__getitem__)
]
"""Per builtin id: its implementation, and what splits its argument words (from
``ARGS`` in the header) for ``int.from_bytes`` in ``map``: both in C, so a crossing
runs no bytecode per argument."""
_FROM_BYTES: Any = int.from_bytes
_LITTLE = itertools.repeat("little")
_WORD_MASK = (1 << 256) - 1
_SLOAD, _SSTORE = BUILTIN_IDS["sload"], BUILTIN_IDS["sstore"]
_RUNS_FRAMES = frozenset(BUILTIN_IDS[name] for name, sig in BUILTINS.items() if sig.runs_frames)
"""Builtins after which the frame's known storage slots are stale (``SLOTS``)."""
_EMITS_LOGS = _RUNS_FRAMES | {BUILTIN_IDS[f"log{count}"] for count in range(5)}
"""Builtins before which the logs generated code buffered go to the host (they come first)."""
_TLOAD, _TSTORE = BUILTIN_IDS["tload"], BUILTIN_IDS["tstore"]
_EXIT_KINDS = tuple(ExitKind)
"""``ExitKind(status)`` without the enum's call (statuses are 0, 1, 2, ...)."""
assert [kind.value for kind in _EXIT_KINDS] == list(range(len(_EXIT_KINDS)))
_ORIGINAL_KNOWN = SL_ORIGINAL_KNOWN.to_bytes(8, "little")
"""The flags of every entered storage slot: its crossings always know the original value."""
_TRANSIENT = SL_TRANSIENT.to_bytes(8, "little")
_ZERO_WORD = bytes(32)
assert max(ARGS, CALLDATA_WINDOW) <= ZERO_RUN  # the areas a frame clears from ZEROS


def engine(*, fast: bool = False) -> wasmtime.Engine:
    """The process-wide engine: wide arithmetic on, memories never move.

    ``fast``: the engine for large functions, where Cranelift's optimisations
    and its backtracking register allocator cost more than the code ever
    gains back (see ``FAST_TIER_INSTS`` in :mod:`.backend`): no optimisation,
    single-pass allocation, 3-4x quicker to compile.
    """
    global _ENGINE, _FAST_ENGINE
    found = _FAST_ENGINE if fast else _ENGINE
    if found is None:
        config = wasmtime.Config()
        for name, value in ENGINE_SETTINGS.items():
            setattr(config, name, value)
        if fast:
            config.cranelift_opt_level = "none"
            config.cranelift_flag_set("regalloc_algorithm", "single_pass")
        # Nested frames re-enter wasm through the host and the host frames in
        # between count against max_wasm_stack: the default 512 KiB traps at
        # ~110 call levels.  Native stack is guarded by CompiledContract.run.
        if set_async_stack_size(config, MAX_WASM_STACK + (1 << 20)):
            config.max_wasm_stack = MAX_WASM_STACK
        found = wasmtime.Engine(config)
        if fast:
            _FAST_ENGINE = found
        else:
            _ENGINE = found
    return found


def compile_serialized(wasm: bytes, fast: bool) -> bytes:
    """``wasm`` compiled by this process's engine and serialized: a compiler process's job.

    The compiler process runs with this process's memory mode (the backend
    passes :data:`MEMORY_MODE_ENV`), so the code fits :func:`deserialize` here.
    """
    return bytes(wasmtime.Module(engine(fast=fast), wasm).serialize())


COMPILE_JOB = "evmkiln.backend_wasm.runtime:compile_serialized"


def compiler_process(limits: CompileLimits | None = None) -> CompilerProcess:
    """The compiler process whose engines are this process's (same memory mode).

    Shared by every caller with the same limits (see
    :func:`~evmkiln.codegen.compiler_process.shared_compiler`).
    """
    return shared_compiler(limits, env={MEMORY_MODE_ENV: MEMORY_MODE})


def deserialize(data: bytes, fast: bool) -> wasmtime.Module:
    """A module from :func:`compile_serialized`; wasmtime refuses one built for other settings."""
    return wasmtime.Module.deserialize(engine(fast=fast), data)


class _ThreadState(threading.local):
    """Per thread: the slots running on it (innermost last) and its native stack."""

    def __init__(self) -> None:
        self.active: list[_Slot] = []
        self.low, self.size = _native_stack()
        self.helper: _FrameThread | None = None
        self.vetted = False
        """:func:`native_stack_reason` has just let the next run start here."""
        self.unsettled: set[CompiledContract] = set()
        """Contracts whose last nested run ended: the outermost run makes them idle."""


_THREAD = _ThreadState()
_SPAWN = threading.Lock()

_Job = tuple[Callable[[Frame], ExitKind], Frame, threading.Event, list[object]]


class _FrameThread:
    """A long-lived thread with a :data:`HELPER_STACK` native stack that runs frames for one caller.

    Starting a thread with a 64 MiB stack costs about 2 ms, more than most
    whole transactions, so a caller whose own stack is too small hands its
    outermost frames to this thread and waits; nested frames then run inline
    on it.  One per calling thread (kept in the caller's thread-local state),
    so callers never queue behind each other; when the caller's thread ends
    its state is dropped and the helper is told to stop.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        with _SPAWN:  # threading.stack_size is process-wide
            previous = threading.stack_size(HELPER_STACK)
            try:
                thread = threading.Thread(
                    target=_serve, args=(self._jobs,), name="evmkiln-wasm-frames", daemon=True
                )
                thread.start()
            finally:
                threading.stack_size(previous)

    def run(self, run: Callable[[Frame], ExitKind], frame: Frame) -> ExitKind:
        done = threading.Event()
        box: list[object] = []
        self._jobs.put((run, frame, done, box))
        done.wait()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, ExitKind)
        return result

    def __del__(self) -> None:
        self._jobs.put(None)


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    state = _THREAD
    if not state.size:  # bounds unknown here: trust the size asked for
        state.size = HELPER_STACK
    while (job := jobs.get()) is not None:
        run, frame, done, box = job
        try:
            box.append(run(frame))
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)
        finally:
            del run, frame
            done.set()


UNSETTLED_LIMIT = 16
"""Contracts whose nested runs ended that may wait for the outermost run to be
made idle (see :meth:`CompiledContract._settle`)."""
KEPT_TABLES = 4
"""Instances a contract keeps with their storage tables, at most (one per storage
address: a contract and the proxies that delegate to it); the oldest is freed first."""


SHORT_STACK = "too little native stack left for a wasm frame on this thread"
"""The reason :func:`native_stack_reason` gives."""
VETTING_MARGIN = 256 << 10
"""Native stack a dispatcher's frame set-up may use between the check and the run."""


def native_stack_reason(depth: int | None = None) -> str | None:
    """For a dispatcher that can run a frame on an interpreter instead: why not to run
    the next wasm frame on this thread (``None``: run it, here).

    On a thread with less than :data:`INLINE_STACK` of native stack (a
    process's main thread has 8 MiB), a top-level run that may nest moves to
    the helper thread, which costs two thread wake-ups, more than a small
    call's whole frame.  A dispatcher that asks first instead runs every frame
    on this thread while :data:`NESTED_RESERVE` bytes (and a margin) remain,
    and the frames deeper than that on its interpreter, with the same results.
    On a large stack (a worker's, the helper's) nothing is measured, and a
    stack whose bounds are unknown keeps the helper thread.

    ``depth``: the next frame's call depth.  A frame called straight from
    the innermost running wasm frame (one deeper) starts a few Python calls
    below that frame's crossing into the host, whose address is known, so
    the stack is not probed again; one with other frames in between (the
    interpreter's, the LLVM backend's) is probed.
    """
    state = _THREAD
    if state.size >= INLINE_STACK or not state.low:
        return None
    active = state.active
    parent = active[-1] if active else None
    running = None if parent is None else parent.frame
    if parent is not None and running is not None and running.depth + 1 == depth:
        left = address_of(parent.host.values) - state.low
    else:
        left = stack_left(state.low, state.size)
    if left < NESTED_RESERVE + VETTING_MARGIN:
        return SHORT_STACK
    state.vetted = True
    return None


def _on_helper_thread(run: Callable[[Frame], ExitKind], frame: Frame) -> ExitKind:
    """``run(frame)`` on the calling thread's :class:`_FrameThread`."""
    state = _THREAD
    helper = state.helper
    if helper is None:
        helper = state.helper = _FrameThread()
    return helper.run(run, frame)


class _Slot:
    """One instance of the module with its memory views and the frame it is running."""

    def __init__(self, owner: CompiledContract, store: wasmtime.Store) -> None:
        """An instance of ``owner``'s module in ``store`` (the owner's, or a run's own)."""
        self._growths = owner._growths
        """The owner's count of memory growths, which its idle books compare."""
        self.base = owner.memory_base
        self.logs = log_buffer(owner.memory_base)
        self.frame: Frame | None = None
        self.host = HostImport(store, self._handle)
        instance = wasmtime.Instance(store, owner.module, [self.host.func])
        exports = instance.exports(store)
        memory, run = exports["memory"], exports["run"]
        assert isinstance(memory, wasmtime.Memory) and isinstance(run, wasmtime.Func)
        self.memory = memory
        self.store = store
        self.pages = memory.size(store)
        """Linear memory's size: only this slot grows it (generated code asks)."""
        self.addr = 0
        self.header = memoryview(b"")
        self.words = memoryview(b"").cast("q")
        """The header as signed 64-bit words (native order, little-endian as wasm's):
        the control words are read and written through it."""
        self.head = memoryview(b"")
        self._locate()
        self.call = FastCall(store, run)
        self._window_used = 0
        """Bytes of the call-data window the last frame filled (the rest is zero)."""
        self._writable: set[int] = set()
        """Entries (offsets in ``SLOTS``) entered this generation: the only ones
        generated SSTORE can make dirty."""

    def _locate(self) -> None:
        """Take the memory's address anew: call after every growth, which may move it.

        Nothing may keep an address or a view of the header across a growth:
        a moved memory's old mapping is gone.
        """
        self.addr = memory_address(self.store, self.memory)
        self.header = memoryview((ctypes.c_ubyte * self.base).from_address(self.addr)).cast("B")
        self.words = self.header.cast("q")
        span = min(ZERO_RUN, self.pages * PAGE - self.base)
        head = (ctypes.c_ubyte * span).from_address(self.addr + self.base)
        self.head = memoryview(head).cast("B")
        """The first bytes of EVM memory (at most :data:`ZERO_RUN`): a small frame's
        memory is cleared and its output read through this view, without a
        foreign call (``ctypes.memset``/``string_at``: about a microsecond each)."""

    # -- memory ----------------------------------------------------------------
    def _msize(self) -> int:
        return int(self.words[_W_MSIZE])

    def _read_memory(self) -> bytearray:
        n = self._msize()
        return bytearray(ctypes.string_at(self.addr + self.base, n)) if n else bytearray()

    def _grow_to(self, n: int) -> None:
        """Make linear memory cover ``n`` EVM bytes and set msize (new bytes are zero)."""
        self._ensure_pages((self.base + n + PAGE - 1) // PAGE)
        self.words[_W_MSIZE] = n

    def _ensure_pages(self, pages: int) -> None:
        """Grow linear memory to at least ``pages`` pages (by half again at least).

        In the compact memory mode every growth that outgrows the mapping
        copies the memory to a new one, so growing by half again at least
        keeps a memory grown page by page from costing quadratic time.  Pages
        past msize cost no physical memory and are never reachable (every
        access is checked against msize), and they stay zero: resets clear
        memory up to msize.
        """
        have = self.pages
        if pages <= have:
            return
        if pages > MAX_PAGES:  # generated code and expand() stop well before
            raise WasmMemoryError(f"{pages} pages exceed wasm32's {MAX_PAGES}")
        want = max(pages, min(MAX_PAGES, have + have // 2))
        try:
            self.memory.grow(self.store, want - have)
        except wasmtime.WasmtimeError as exc:
            if want == pages:
                raise WasmMemoryError(_grow_refused(pages, exc)) from None
            try:  # no room for the margin: the pages needed may still fit
                self.memory.grow(self.store, pages - have)
            except wasmtime.WasmtimeError as exc2:
                raise WasmMemoryError(_grow_refused(pages, exc2)) from None
            want = pages
        self.pages = want
        with _BOOKS:
            self._growths[0] += 1
        self._locate()

    def _write_memory(self, data: bytearray) -> None:
        n = len(data)
        self._grow_to(n)
        if n:
            ctypes.memmove(self.addr + self.base, (ctypes.c_char * n).from_buffer(data), n)

    def _read_word(self, slot: int) -> int:
        at = ARGS + 32 * slot
        return int.from_bytes(self.header[at : at + 32], "little")

    # -- the host import -------------------------------------------------------------
    def _handle(self, ident: int) -> int:
        if ident == HOST_GROW:  # raising is reported by the run (see execute)
            self._ensure_pages(self.words[_W_GROW])
            return 0
        frame = self.frame
        assert frame is not None
        frame.gas = self.words[_W_GAS]
        if ident == _SLOAD:
            return self._sload(frame)
        if ident == _SSTORE:
            return self._sstore(frame)
        impl, split = _BUILTIN_TABLE[ident]
        args = list(map(_FROM_BYTES, split(self.header, ARGS), _LITTLE))
        mark = 0
        if ident in _EMITS_LOGS:
            self._emit_logs()
            if ident in _RUNS_FRAMES:  # the other frame must see this one's writes
                self._write_back()
                mark = frame.host.frames_mark()
        try:
            result = impl(frame, *args)
        except ExceptionalHalt as halt:
            self.host.error = halt
            return 1
        # The builtin may have grown (and moved) memory: the views are read anew.
        if result is not None:
            self.header[ARGS : ARGS + 32] = result.to_bytes(32, "little")
        self.words[_W_GAS] = frame.gas
        if ident in (_TLOAD, _TSTORE):
            value = result if ident == _TLOAD else args[1]
            assert value is not None
            self._remember(args[0], value, _ZERO_WORD, transient=True)
        elif ident in _RUNS_FRAMES:
            # Only a frame on this account's storage can have changed what the table
            # knows; a large table is forgotten anyway (see the LLVM bridge's
            # ``_after_frames``).
            if len(self._writable) > KEPT_ENTRIES_LIMIT or frame.host.frame_ran_at(
                frame.address, mark
            ):
                self._advance_generation()
            self.words[_W_RETURNDATA_LEN] = len(frame.returndata)
        return 0

    def _sstore(self, frame: Frame) -> int:
        """SSTORE's crossing: the builtin, then the slot entered with its new value and
        the original value the builtin read to price it.  With the original known,
        generated SSTORE prices every later write to the slot: a read-modify-write
        crosses only for its SLOAD."""
        packed = int.from_bytes(self.header[ARGS : ARGS + 64], "little")
        slot, value = packed & _WORD_MASK, packed >> 256
        try:
            original = sstore_with_original(frame, slot, value)
        except ExceptionalHalt as halt:
            self.host.error = halt
            return 1
        self.words[_W_GAS] = frame.gas
        self._remember(slot, value, original.to_bytes(32, "little"), transient=False)
        return 0

    def _sload(self, frame: Frame) -> int:
        """SLOAD's crossing: the builtin, then the slot entered with the original value
        it read on the way (the most frequent crossing, so one call to the host)."""
        slot = self._read_word(0)
        try:
            value, original = sload_with_original(frame, slot)
        except ExceptionalHalt as halt:
            self.host.error = halt
            return 1
        self.header[ARGS : ARGS + 32] = value.to_bytes(32, "little")
        self.words[_W_GAS] = frame.gas
        self._remember(slot, value, original.to_bytes(32, "little"), transient=False)
        return 0

    # -- known storage slots (read by generated SLOAD and SSTORE) ----------------------
    def _remember(self, slot: int, value: int, original: bytes, *, transient: bool) -> None:
        """Enter a slot this frame read or wrote, with the value it now holds: a storage
        slot with its original value (so that generated SSTORE prices later writes to
        it), or a transient slot.  A value held back in the entry this one replaces is
        told to the host first.
        """
        index = slot_index(slot, transient) * SL_ENTRY
        if index in self._writable:
            self._write_back_entry(index)
        self._writable.add(index)
        at = SLOTS + index
        generation = self.header[CTRL_SL_GEN : CTRL_SL_GEN + 8]
        self.header[at : at + SL_ENTRY] = (
            slot.to_bytes(32, "little")
            + value.to_bytes(32, "little")
            + original
            + generation
            + (_TRANSIENT if transient else _ORIGINAL_KNOWN)
        )

    def _write_back(self) -> None:
        """Tell the host every value generated SSTOREs hold back in the table.

        The entries stay valid and writable: generated SSTORE may dirty them
        again (after a child frame that left this account's storage alone).
        """
        words = self.words
        for index in self._writable:
            # Most entries were only read: the flags word alone says so, without a call.
            if words[((SLOTS + index) >> 3) + _W_FLAGS] & SL_DIRTY:
                self._write_back_entry(index)

    def _write_back_entry(self, index: int) -> None:
        header = self.header
        at = SLOTS + index
        flags_at = (at >> 3) + _W_FLAGS
        flags = self.words[flags_at]
        current = (
            header[at + SL_GENERATION : at + SL_FLAGS] == header[CTRL_SL_GEN : CTRL_SL_GEN + 8]
        )
        if not current or not flags & SL_DIRTY:
            return
        frame = self.frame
        assert frame is not None
        slot = int.from_bytes(header[at : at + 32], "little")
        value = int.from_bytes(header[at + SL_VALUE : at + SL_VALUE + 32], "little")
        if flags & SL_TRANSIENT:
            frame.host.set_transient(frame.address, slot, value)
        else:
            frame.host.set_storage(frame.address, slot, value)
        self.words[flags_at] = flags & ~SL_DIRTY

    # -- buffered logs -------------------------------------------------------------------
    def _emit_logs(self) -> None:
        """Hand the logs generated code buffered to the host, in order; empty the buffer."""
        used = self.words[_W_LOG_LEN]
        if not used:
            return
        self.words[_W_LOG_LEN] = 0
        frame = self.frame
        assert frame is not None
        raw = bytes(self.header[self.logs : self.logs + used])
        frame.host.emit_logs(frame.address, decode_entries(raw))

    def _advance_generation(self) -> None:
        """Make every entry stale: a new frame, or a child that may have written storage."""
        self._writable.clear()
        self.words[_W_SL_GEN] += 1

    # -- one frame ----------------------------------------------------------------------
    def execute(self, frame: Frame, *, adopted: bool = False) -> ExitKind:
        """Run ``frame`` on this instance.  ``adopted``: the storage table the last frame
        left is still valid for this one (see :meth:`CompiledContract.run`)."""
        if not 0 <= frame.gas < GAS_LIMIT:
            raise ValueError(f"gas {frame.gas} does not fit the wasm backend's i64 counter")
        addr, base = self.addr, self.base
        # Reset whatever the previous frame left behind that this one could read;
        # its known storage slots go stale with a new generation (the counter
        # survives the reset).  The EVM stack area is left as it is: generated
        # code reads a stack entry only below the height it checked, and every
        # entry there was written by this frame (a frame starts at height 0), as
        # the LLVM backend's stack relies on too.  Clearing its 32 KiB cost more
        # than a small frame's whole run.
        words = self.words
        generation = words[_W_SL_GEN]
        dirty = words[_W_MSIZE]
        if dirty:
            head = self.head
            if dirty <= len(head):
                head[:dirty] = ZEROS[:dirty]
            else:
                ctypes.memset(addr + base, 0, dirty)
        header = self.header
        header[:ARGS] = ZEROS[:ARGS]  # CTRL_REFUND included
        if adopted:
            words[_W_SL_GEN] = generation
        else:
            words[_W_SL_GEN] = generation + 1
            self._writable.clear()
        if frame.is_static:
            words[_W_STATIC] = 1
        header[MSG_VALUE:MSG_CALLDATA_LEN] = message_words(frame.value, frame.caller, frame.address)
        calldata = frame.calldata
        words[_W_CALLDATA_LEN] = len(calldata)
        words[_W_RETURNDATA_LEN] = len(frame.returndata)
        window = calldata[:CALLDATA_WINDOW]
        used = len(window)
        header[CALLDATA : CALLDATA + used] = window
        left = self._window_used
        if used < left:  # the rest of the window is zero but what the last frame left
            header[CALLDATA + used : CALLDATA + left] = ZEROS[: left - used]
        self._window_used = used
        if frame.memory:  # else msize is 0 already (the control area was cleared)
            self._write_memory(frame.memory)
        self.words[_W_GAS] = frame.gas  # the memory may have moved: the view read anew
        self.frame = frame
        self.host.error = None
        view = LinearMemoryView(self)
        # Builtins use frame.memory as a bytearray; the view is one without copies.
        frame.memory = view  # type: ignore[assignment]
        try:
            status = self.call()
        finally:
            try:
                # Values and refunds of the SSTOREs priced in wasm (harmless
                # after a halt: py-evm reverts the frame and drops its refunds).
                if self._writable:
                    self._write_back()
                words = self.words
                frame.refund += words[_W_REFUND]
                if words[_W_LOG_LEN]:
                    self._emit_logs()
            finally:
                self.frame = None
                view.close()
                frame.memory = self._read_memory() if frame.keep_memory else bytearray()
        error = self.host.error
        if error is not None:
            # A builtin raised (status STATUS_HOST_HALT), or growth was refused
            # (generated code then exits as if out of gas): the host's error
            # stands, not the halt.
            self.host.error = None
            raise error
        assert status != STATUS_HOST_HALT
        words = self.words
        frame.gas = words[_W_GAS]
        if status >= STATUS_HALT_BASE:
            raise ExceptionalHalt(HaltKind(status - STATUS_HALT_BASE))
        if not 0 <= status < len(_EXIT_KINDS):
            raise RuntimeError(f"the module returned unknown status {status}")
        kind = _EXIT_KINDS[status]
        if kind is ExitKind.RETURN or kind is ExitKind.REVERT:
            offset = words[_W_OUT_OFFSET]
            size = words[_W_OUT_SIZE]
            if size and offset + size > self._msize():  # the code expanded over it
                raise RuntimeError(f"output range {offset}+{size} outside memory")
            if offset + size <= len(self.head):
                frame.output = bytes(self.head[offset : offset + size])
            else:
                frame.output = ctypes.string_at(self.addr + self.base + offset, size)
        return kind


class LinearMemoryView(NativeMemoryView):
    """``frame.memory`` while the frame runs: EVM memory read and written in place.

    A :class:`~evmkiln.builtins.memory_view.NativeMemoryView` over the slot's
    linear memory past its control area, so a crossing copies only the bytes
    the builtin touches, whatever its effects declare.  The address is taken
    from the slot at each access: growth may move the memory, and the slot
    takes note of the new address whenever it grows.  A view lives for one run:
    the run closes it and hands the frame a bytearray copy, and a closed view
    raises.
    """

    __slots__ = ("_slot",)

    def __init__(self, slot: _Slot) -> None:
        self._slot: _Slot | None = slot

    def close(self) -> None:
        self._slot = None

    def _live(self) -> _Slot:
        slot = self._slot
        if slot is None:
            raise RuntimeError("EVM memory view used after its run ended")
        return slot

    def address(self) -> int:
        slot = self._live()
        return slot.addr + slot.base

    def __len__(self) -> int:
        return self._live()._msize()

    def _view_to(self, stop: int) -> memoryview | None:
        head = self._live().head  # remade whenever memory grows
        return head if stop <= len(head) else None

    def grow_to(self, size: int) -> None:
        slot = self._live()
        if size > slot._msize():
            slot._grow_to(size)


MAX_IDLE_INSTANCES = 256
"""Instances that idle contracts may keep, all stores together.

In the reserved memory mode every instance reserves its linear memory's
whole range of address space up front (about 4 GiB each; a compact one holds
what its memory uses), and a store frees its instances only when it is
dropped.  A process that meets thousands of
contracts -- a node, a conformance run -- would otherwise keep every store,
and a store that once served a 1024-deep recursion keeps 1024 instances: the
process runs out of address space or mappings (``mmap`` failing with ENOMEM,
then worse).  When idle contracts hold more than this many instances, the
least recently used ones drop their stores; a contract's next run makes a
new store (an instance costs tens of microseconds, the compiled module is
kept)."""
MAX_IDLE_STORE_INSTANCES = 8
"""A contract going idle with more instances than this drops its store at once
(only deep recursion needs many, and it is rare)."""
MAX_IDLE_MEMORY = 256 << 20
"""Bytes of linear memory that idle contracts may keep, all stores together.

A memory never shrinks, and a frame that expanded EVM memory to hundreds of
MiB leaves its instance holding them (touched, so resident; in the compact
memory mode also address space that a process under ``RLIMIT_AS`` needs for
the next frames).  The least recently used stores are dropped beyond this,
as beyond :data:`MAX_IDLE_INSTANCES`; small instances (576 KiB for a small
contract) never come near it."""

_IDLE: OrderedDict[int, CompiledContract] = OrderedDict()
"""Contracts with a store, least recently used first: those with no running frame,
and those that ran from here and are running still (left in place, passed over
when stores are dropped, and counted as when they last went idle)."""
_IDLE_INSTANCES = [0]
"""Instances held by the stores of the contracts in :data:`_IDLE`."""
_IDLE_MEMORY = [0]
"""Bytes of linear memory held by the stores of the contracts in :data:`_IDLE`."""
_BOOKS = threading.RLock()
"""Held while the idle books, a contract's running count or its counted instances
and growths change: every thread's runs enter and leave the same books."""


def _grow_refused(pages: int, error: wasmtime.WasmtimeError) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
    return (
        f"cannot grow wasm linear memory to {pages * PAGE} bytes ({MEMORY_MODE} memory mode): "
        f"{reason}"
    )


class CompiledContract:
    """A compiled module, its store and its pool of instances."""

    def __init__(
        self,
        wasm: bytes | wasmtime.Module,
        memory_base: int,
        *,
        fast: bool = False,
        leaf: bool | None = None,
    ) -> None:
        """Compile ``wasm`` (with the fast engine if ``fast``), or take a module already
        compiled by :func:`engine` (deserialized AOT code).

        ``leaf``: the module calls no builtin that runs frames (see
        :func:`runs_no_frames`); ``None``: decided from the first frame's code.
        """
        owner = engine(fast=fast)
        self.leaf = leaf
        self.module = wasm if isinstance(wasm, wasmtime.Module) else wasmtime.Module(owner, wasm)
        self._engine = owner
        self.store: wasmtime.Store | None = None
        self.memory_base = memory_base
        self._free: list[_Slot] = []
        self._kept: dict[bytes, tuple[_Slot, object]] = {}
        """Instances whose storage table a nested frame left, by the frame's storage
        address, with the host's stamp of that storage then (see :meth:`run`)."""
        self._running = 0
        self._owner = 0
        """The thread whose runs are in the store while :attr:`_running` (its ident)."""
        self._live = 0
        """Instances in the current store."""
        self._counted = 0
        """What this contract adds to :data:`_IDLE_INSTANCES` while idle."""
        self._counted_memory = 0
        """What this contract adds to :data:`_IDLE_MEMORY` while idle."""
        self._growths = [0]
        """Growths of its instances' memories (shared with them), and their count
        when :attr:`_counted_memory` was taken."""
        self._counted_growths = 0
        self.instances = 0
        """Instances created over the contract's life (every store)."""

    def run(self, frame: Frame) -> ExitKind:
        state = _THREAD
        active = state.active
        vetted, state.vetted = state.vetted, False
        if not active:
            if state.size < INLINE_STACK and not vetted and not self._runs_inline(state, frame):
                return _on_helper_thread(self.run, frame)
        elif state.low and not vetted:
            left = address_of(active[-1].host.values) - state.low
            if left < NESTED_RESERVE:
                raise WasmStackExhaustedError(
                    f"{left} bytes of native stack left at call depth {frame.depth}"
                )
        me = threading.get_ident()
        with _BOOKS:
            apart = self._running and self._owner != me
            if not apart:
                self._running += 1  # running: not to be dropped, though still in the idle books
                self._owner = me
        if apart:
            return self._run_apart(frame)
        slot: _Slot | None = None
        adopted = False
        try:
            # Only nested frames keep their tables, and look for one (see _keep).
            if self._kept and frame.depth:
                kept = self._kept.pop(frame.address, None)
                if kept is not None:
                    slot = kept[0]
                    adopted = frame.host.storage_stamp(frame.address) is kept[1]
            if slot is None:
                slot = self._free.pop() if self._free else self._new_slot()
        except BaseException:
            if slot is not None:
                self._free.append(slot)
            self._settle()
            raise
        active.append(slot)
        kind = None
        kept_now = False
        try:
            kind = slot.execute(frame, adopted=adopted)
            return kind
        finally:
            active.pop()
            try:
                kept_now = worth_keeping(
                    kind is ExitKind.STOP or kind is ExitKind.RETURN,
                    frame.depth,
                    len(slot._writable),
                ) and self._keep(slot, frame)
            finally:
                if not kept_now:
                    self._free.append(slot)
                self._settle()

    def _run_apart(self, frame: Frame) -> ExitKind:
        """Run ``frame`` in a store of its own: another thread is running in this one.

        A wasmtime store belongs to one thread at a time: it is entered with
        that thread's stack limit and stays entered while the thread is in a
        host call, so a second thread entering it meanwhile runs against the
        first one's stack bounds (a spurious stack overflow, or a panic in
        wasmtime's stack walk that aborts the process).  Threads that share a
        VM class rarely run the same contract at the same moment, so such a
        run pays for a store and an instance (tens of microseconds) rather
        than every run for a store per thread; the store goes with the run.
        """
        active = _THREAD.active
        slot = self._instantiate(wasmtime.Store(self._engine))
        active.append(slot)
        try:
            return slot.execute(frame)
        finally:
            active.pop()

    def _keep(self, slot: _Slot, frame: Frame) -> bool:
        """Keep ``slot`` with its storage table for the next frame of this contract on
        ``frame.address`` (a nested frame that ended with STOP or RETURN).

        A contract called again in the transaction (a token's balance read
        after its transfer, a pair's reserves) then finds the slots it knew.
        Which tables are kept is :func:`~evmkiln.builtins.kept_tables.worth_keeping`'s
        answer.  The table's writes were told to the host when the frame ended; the
        next frame uses the table only if the host's stamp of the account's
        storage is still the one taken now
        (:meth:`~evmkiln.builtins.host.Host.storage_stamp`): any write of
        that storage by anyone else, any revert and the transaction's end
        change it; it covers transient storage too, so the table's
        transient entries are kept with the others.
        """
        stamp = frame.host.storage_stamp(frame.address)
        if stamp is None:
            return False
        displaced = keep_bounded(self._kept, frame.address, (slot, stamp), KEPT_TABLES)
        if displaced is not None:
            self._free.append(displaced[0])
        return True

    def _runs_inline(self, state: _ThreadState, frame: Frame) -> bool:
        """A top-level run on a thread too small for 1,024 nested frames may stay on it
        when it cannot nest: the module runs no frames and :data:`NESTED_RESERVE` bytes
        of native stack are left, what any nested run needs to start.

        Handing a run to the helper thread costs two thread wake-ups (tens of
        microseconds on a loaded machine), more than a small call's whole frame.
        """
        leaf = self.leaf
        if leaf is None:
            leaf = self.leaf = runs_no_frames(frame.code)
        return leaf and stack_left(state.low, state.size) >= NESTED_RESERVE

    def _settle(self) -> None:
        """After a run: become idle when no frame runs us, and drop the stalest stores.

        After a nested run that is left to the outermost run of the thread,
        once for every contract that ran: a contract called again and again
        in one transaction would otherwise enter and leave the idle books
        every time.  At most :data:`UNSETTLED_LIMIT` contracts wait so, so the
        caps on idle instances and memory hold within a transaction too (give
        or take theirs).
        """
        with _BOOKS:
            self._running -= 1
            if self._running or self.store is None:
                return
            state = _THREAD
            unsettled = state.unsettled
            if state.active:
                unsettled.add(self)
                if len(unsettled) <= UNSETTLED_LIMIT:
                    return
            if unsettled:  # they ran before this one: older in the books
                state.unsettled = set()
                for contract in unsettled:
                    if not contract._running and contract.store is not None:
                        contract._become_idle()
            if self.store is not None:  # in the set above, its store may have been dropped
                self._become_idle()

    def _become_idle(self) -> None:
        """Enter the idle books, or, for a contract that ran from them, move to their end.

        A contract stays in the books while it runs (:meth:`drop_store` and
        the eviction below pass over it), so a run that made no instance and
        grew no memory costs a move to the end, not a recount: most runs.
        Either way the least recently used stores go while the books hold
        more than their caps (others' evictions passed over this one while
        it ran).  The caller holds :data:`_BOOKS`.
        """
        key = id(self)
        unchanged = self._live == self._counted and self._growths[0] == self._counted_growths
        if unchanged and key in _IDLE:
            _IDLE.move_to_end(key)
        else:
            self._leave_idle()
            if self._live > MAX_IDLE_STORE_INSTANCES:
                self._drop_store()
                return
            _IDLE[key] = self
            self._counted = self._live
            _IDLE_INSTANCES[0] += self._counted
            pages = 0
            for slot in self._free:  # idle: every instance is free or kept
                pages += slot.pages
            for slot, _ in self._kept.values():
                pages += slot.pages
            self._counted_memory = pages * PAGE
            self._counted_growths = self._growths[0]
            _IDLE_MEMORY[0] += self._counted_memory
        while _IDLE_INSTANCES[0] > MAX_IDLE_INSTANCES or _IDLE_MEMORY[0] > MAX_IDLE_MEMORY:
            # The least recently used first; a contract running now is passed over.
            victim = next((idle for idle in _IDLE.values() if not idle._running), None)
            if victim is None:
                break
            victim._drop_store()

    def _leave_idle(self) -> None:
        """Leave the idle books (the caller holds :data:`_BOOKS`)."""
        if _IDLE.pop(id(self), None) is not None:
            _IDLE_INSTANCES[0] -= self._counted
            _IDLE_MEMORY[0] -= self._counted_memory
            self._counted = self._counted_memory = 0

    def drop_store(self) -> None:
        """Free every instance (and its memory); the next run starts a new store.

        Refused while a frame runs on it (in any thread).
        """
        with _BOOKS:
            self._drop_store()

    def _drop_store(self) -> None:
        """:meth:`drop_store`, for a caller holding :data:`_BOOKS`."""
        if self._running:
            return
        self._leave_idle()
        self._free.clear()
        self._kept.clear()
        self._live = 0
        self.store = None

    def _new_slot(self) -> _Slot:
        if self.store is None:
            self.store = wasmtime.Store(self._engine)
        slot = self._instantiate(self.store)
        with _BOOKS:
            self.instances += 1
            self._live += 1
        return slot

    def _instantiate(self, store: wasmtime.Store) -> _Slot:
        try:
            return _Slot(self, store)
        except wasmtime.WasmtimeError as exc:
            # Instantiating maps the instance's memory: what fails is address space.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
            raise WasmMemoryError(
                f"cannot make a wasm instance ({MEMORY_MODE} memory mode, "
                f"{self._live} live in this contract's store): {reason}"
            ) from None
