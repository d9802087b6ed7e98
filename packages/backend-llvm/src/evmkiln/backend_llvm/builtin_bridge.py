"""Native entry points into the Python builtins, and the state of a running frame.

Generated code reaches Python through a table of native function pointers
(``RuntimeContext.entries``).  Slot :data:`MEM_EXPAND` grows memory; the other
slots are the builtins of :data:`~evmkiln.builtins.table.BUILTINS`, in table
order.  Every builtin entry has the same C signature::

    int32 entry(RuntimeContext *ctx, uint8_t *words)

``words`` holds the arguments as little-endian 32-byte words (stack order) and
receives the result in word 0.  The return value is 0 to continue, or the
status the generated code must return at once (:data:`STATUS_HALT`,
:data:`STATUS_ERROR`).  A native implementation of a hot builtin only needs to
put another function with this signature in its slot (or be called directly
by the translator); the generated code does not change.

Crossing rules, applied by every Python entry:

* gas: the generated code keeps the gas counter in ``ctx.gas``; the entry
  copies it into ``frame.gas`` before the implementation and back after, so
  builtins that observe or charge gas see the exact value.
* halts: :class:`ExceptionalHalt` never unwinds through native frames.  It is
  caught here, its kind stored in ``ctx.halt_kind``, and :data:`STATUS_HALT`
  returned; the generated code then returns the same status.  Any other
  exception is parked in the run state, :data:`STATUS_ERROR` is returned, and
  the backend re-raises it once the native frames are gone.

Memory: while the frame runs, ``frame.memory`` is a
:class:`~evmkiln.backend_llvm.frame_memory.ContextMemory`, a view of the
native buffer the context points at, so builtins read and write the very
bytes the generated code uses and nothing is copied around a crossing.
Growth from either side updates ``mem_ptr``/``mem_len``/``mem_cap`` in the
context, which the generated code reloads after every crossing.
"""

from __future__ import annotations

import ctypes
import itertools
import struct
from typing import TYPE_CHECKING, Any, cast

from evmkiln.backend_llvm.context_layout import (
    FIELD_OFFSET,
    I64,
    MESSAGE_WORDS,
    STACK_LIMIT,
    STATUS_ERROR,
    STATUS_HALT,
    WORD_BYTES,
    RuntimeContext,
    int64_view,
)
from evmkiln.backend_llvm.frame_memory import ContextMemory
from evmkiln.backend_llvm.log_buffer import LogBuffer
from evmkiln.backend_llvm.storage_cache import StorageTable, point_at_empty
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.impl.storage import sload_with_original, sstore_with_original
from evmkiln.builtins.kept_tables import keep_bounded, worth_keeping
from evmkiln.builtins.memory import expand
from evmkiln.builtins.message_words import message_words
from evmkiln.builtins.table import BUILTINS, BuiltinSig

if TYPE_CHECKING:
    from evmkiln.builtins.host import Host

MEM_EXPAND = 0
"""Slot of ``int32 mem_expand(ctx, uint64 offset, uint64 size)``."""

ENTRY_NAMES: tuple[str, ...] = ("mem.expand", *BUILTINS)
ENTRY_INDEX: dict[str, int] = {name: i for i, name in enumerate(ENTRY_NAMES)}

LOG_BUILTINS = frozenset(f"log{n}" for n in range(5))

MAX_BUILTIN_WORDS = max(max(len(s.params), len(s.results)) for s in BUILTINS.values())
"""Size, in words, of the argument area every function reserves for calls."""

_WORD_MASK = (1 << 8 * WORD_BYTES) - 1

BUILTIN_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
MEM_EXPAND_ENTRY = ctypes.CFUNCTYPE(
    ctypes.c_int32, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64
)

_ACTIVE: dict[int, RunState] = {}
"""Running frames by context address: how an entry finds its frame."""

_GAS, _REFUND, _STATIC = I64["gas"], I64["refund"], I64["static"]
_OUT_OFFSET, _OUT_SIZE = I64["out_offset"], I64["out_size"]

_MESSAGE_FIELD_NAMES = (
    "calldata_ptr",
    "calldata_len",
    "code_ptr",
    "code_len",
    "returndata_ptr",
    "returndata_len",
    "status",
    "halt_kind",
    "out_offset",
    "out_size",
)


def _bytes_data_offset() -> int:
    """How far a ``bytes`` object's data lies from its address (``id``).

    CPython lays every ``bytes`` object out alike, so a frame's call data,
    code and return data are pointed at as ``id(data) + offset``, written with
    the other message fields in one ``pack_into`` instead of three ctypes
    assignments.  Measured once, on a probe, and checked.
    """
    probe = b"evmkiln bytes probe"
    address = ctypes.cast(ctypes.c_char_p(probe), ctypes.c_void_p).value
    offset = (address or 0) - id(probe)
    if not 0 < offset <= 64 or ctypes.string_at(id(probe) + offset, len(probe)) != probe:
        raise RuntimeError(f"unexpected bytes object layout (data at +{offset})")
    return offset


_BYTES_DATA = _bytes_data_offset()

_WORD = ctypes.c_char * WORD_BYTES
"""One word of a crossing's ``words``, read and written in place through ``raw``
(``from_address``: no copy, no foreign call as ``string_at``/``memmove`` make)."""
_TWO_WORDS = ctypes.c_char * (2 * WORD_BYTES)
"""The first two words of a crossing's ``words`` (SSTORE's slot and value), read as
:data:`_WORD` is."""
_MESSAGE_FIELDS = struct.Struct("<QqQqQqqqqq")
"""``calldata_ptr`` to ``out_size``: the pointers and lengths of call data, code and
return data, then status, halt kind and the output range (adjacent, checked below)."""
_MESSAGE_AT = FIELD_OFFSET["calldata_ptr"]
_RETURNDATA_AT = FIELD_OFFSET["returndata_ptr"]
_RETURNDATA_FIELDS = struct.Struct("<Qq")
if [FIELD_OFFSET[name] - _MESSAGE_AT for name in _MESSAGE_FIELD_NAMES] != [
    8 * i for i in range(len(_MESSAGE_FIELD_NAMES))
]:  # pragma: no cover - the layout is fixed in context_layout
    raise RuntimeError("the message fields of the context are not adjacent")

_IDLE: list[RunState] = []
"""Run states between runs, reused by the next frames (see :class:`RunState`)."""

_KEPT: dict[bytes, tuple[RunState, object]] = {}
"""Run states whose storage table a nested frame left, by the frame's storage address,
with the host's stamp of that storage then (see :meth:`RunState.end`)."""
KEPT_TABLES = 8
"""Tables kept at most (the oldest goes back to the idle states first)."""

_NO_FRAME = Frame(
    host=cast("Host", None),
    gas=0,
    code=b"",
    calldata=b"",
    address=bytes(20),
    caller=bytes(20),
    value=0,
    is_static=False,
    depth=0,
)
"""The frame of an idle run state (which no entry can reach: it is not active)."""


class RunState:
    """One execution of compiled code on a frame: the context and what it borrows.

    Setting up a context -- the context itself, a 32 KiB stack, a memory
    buffer, a storage table -- cost more than a small frame's whole native
    run, so run states are reused: :meth:`begin` takes an idle one (or makes
    one) and points it at the frame, :meth:`end` hands the frame its results
    and puts the state back.  Nested frames each take their own.  Nothing
    from an earlier run is visible to a later one: the stack is only read
    below the height the code checked and wrote, memory is cleared on
    release, and the storage table's generation moves on.
    """

    __slots__ = (
        "address",
        "ctx",
        "error",
        "frame",
        "held",
        "i64",
        "logs",
        "memory",
        "raw",
        "stack",
        "storage",
    )

    def __init__(self) -> None:
        self.ctx = RuntimeContext()
        ctx = self.ctx
        self.address = ctypes.addressof(ctx)
        self.i64 = int64_view(ctx)
        self.raw = self.i64.cast("B")
        self.stack = (ctypes.c_char * (STACK_LIMIT * WORD_BYTES))()
        ctx.stack = ctypes.addressof(self.stack)
        ctx.entries = ENTRY_TABLE_ADDRESS
        point_at_empty(ctx)
        self.memory = ContextMemory(ctx)
        self.storage = StorageTable(ctx, self._write_back, self._write_back_transient)
        self.logs = LogBuffer(ctx)
        self.error: BaseException | None = None
        self.frame = _NO_FRAME
        self.held: tuple[bytes, ...] = ()
        """The call data, code and return data the context points at (kept alive here)."""

    @classmethod
    def begin(cls, frame: Frame) -> RunState:
        """A run state for ``frame``, registered for the builtin entries.

        A state a frame left keeps pointing at that frame's call data, code
        and return data until it is reused: only bytes, never a frame.
        """
        gas = frame.gas
        if gas >= 1 << 63 or gas < 0:
            raise ValueError(f"gas {gas} does not fit the native gas counter")
        words = message_words(frame.value, frame.caller, frame.address)
        # A top-level frame never meets a table of its own transaction: only nested
        # frames look (and only nested frames keep theirs).
        state = _adopt(frame) if _KEPT and frame.depth else None
        if state is None:
            try:
                state = _IDLE.pop()  # one call: another thread may take the last one
            except IndexError:
                state = cls()
        if state.memory.kept:
            state.memory.claim()
        state.frame = frame
        state.error = None
        i64 = state.i64
        i64[_GAS] = gas
        calldata, code, returndata = frame.calldata, frame.code, frame.returndata
        if type(calldata) is not bytes:
            calldata = bytes(calldata)
        if type(code) is not bytes:
            code = bytes(code)
        if type(returndata) is not bytes:
            returndata = bytes(returndata)
        state.held = (calldata, code, returndata)
        _MESSAGE_FIELDS.pack_into(
            state.raw,
            _MESSAGE_AT,
            id(calldata) + _BYTES_DATA,
            len(calldata),
            id(code) + _BYTES_DATA,
            len(code),
            id(returndata) + _BYTES_DATA,
            len(returndata),
            0,
            0,
            0,
            0,
        )
        i64[_STATIC] = 1 if frame.is_static else 0
        state.raw[MESSAGE_WORDS] = words
        if frame.memory:
            state.memory.borrow(frame.memory)
        frame.memory = state.memory  # type: ignore[assignment]  # builtins use it as one
        _ACTIVE[state.address] = state
        return state

    def borrow_returndata(self) -> None:
        """Point ``ctx.returndata_ptr``/``returndata_len`` at ``frame.returndata``."""
        returndata = self.frame.returndata
        if type(returndata) is not bytes:
            returndata = bytes(returndata)
        calldata, code, _ = self.held
        self.held = (calldata, code, returndata)
        _RETURNDATA_FIELDS.pack_into(
            self.raw, _RETURNDATA_AT, id(returndata) + _BYTES_DATA, len(returndata)
        )

    def output(self) -> bytes:
        """The RETURN/REVERT range of memory (``ctx.out_offset``/``out_size``)."""
        i64 = self.i64
        size = i64[_OUT_SIZE]
        return self.memory.output(i64[_OUT_OFFSET], size) if size else b""

    def emit_logs(self) -> None:
        """Hand the logs buffered by native code to the host, in order."""
        if not self.ctx.lg_len:
            return
        frame = self.frame
        frame.host.emit_logs(frame.address, self.logs.drain())

    def _write_back(self, slot: int, value: int) -> None:
        frame = self.frame
        frame.host.set_storage(frame.address, slot, value)

    def _write_back_transient(self, slot: int, value: int) -> None:
        frame = self.frame
        frame.host.set_transient(frame.address, slot, value)

    def end(self, succeeded: bool = False) -> None:
        """Give the frame its gas, refund, memory and storage writes; make the state idle,
        or keep it with its storage table for the next frame on the same account.

        A nested frame that ``succeeded`` (STOP or RETURN) keeps its table: a
        contract called again in the transaction (a token's balance read after
        its transfer, a pair's reserves) finds the slots it knew there, and
        the next frame on that account takes this state (:meth:`begin`).  It
        uses the table only if the host's stamp of the account's storage is
        still the one taken here, after the table's writes were told
        (:meth:`~evmkiln.builtins.host.Host.storage_stamp`); any write of
        that storage by anyone else, any revert and the transaction's end
        change the stamp; the stamp covers transient storage too, so the
        table's transient entries are kept with the others.  Only a table of at most
        ``KEPT_ENTRIES_LIMIT`` entries is kept: every frame that adopts one
        checks them all for held-back writes at its end.
        """
        del _ACTIVE[self.address]
        frame = self.frame
        i64 = self.i64
        stamp: object | None = None
        try:
            frame.gas = i64[_GAS]
            refund = i64[_REFUND]
            if refund:
                frame.refund += refund
            frame.memory = self.memory.release(frame.keep_memory)
            if self.ctx.lg_len:
                self.emit_logs()
            if worth_keeping(succeeded, frame.depth, self.storage.entered_count()):
                stamp = self._stamp_to_keep(frame)
        finally:
            try:
                if stamp is None:
                    self.storage.end_frame()
            finally:
                if self.ctx.lg_len:
                    self.logs.reset()
                self.frame = _NO_FRAME
                self.error = None
                # Published last: _KEPT and _IDLE are shared by every thread, and a state
                # another thread can take must be done with this frame (frame, error, logs).
                if stamp is None:
                    _IDLE.append(self)
                else:
                    displaced = keep_bounded(_KEPT, frame.address, (self, stamp), KEPT_TABLES)
                    if displaced is not None:
                        _retire(displaced[0])

    def _stamp_to_keep(self, frame: Frame) -> object | None:
        """The host's stamp under which this state is kept for the next frame on
        ``frame.address`` (see :meth:`end`), its writes told; ``None``: not kept."""
        storage = self.storage
        storage.write_back()
        stamp = frame.host.storage_stamp(frame.address)
        if stamp is None:
            return None
        self.ctx.refund = 0  # handed to the frame already
        return stamp

    def fail(self, error: BaseException) -> int:
        """Record a non-halt exception raised inside a crossing."""
        self.error = error
        return STATUS_ERROR

    def halt(self, halt: ExceptionalHalt) -> int:
        self.ctx.halt_kind = int(halt.kind)
        self.error = halt
        return STATUS_HALT


def _adopt(frame: Frame) -> RunState | None:
    """The state a frame on ``frame.address`` kept, its table still valid or reset."""
    kept = _KEPT.pop(frame.address, None)
    if kept is None:
        return None
    state, stamp = kept
    if frame.host.storage_stamp(frame.address) is not stamp:
        state.storage.reset()
    return state


def _retire(state: RunState) -> None:
    """A kept state nobody adopted: its table forgotten, back among the idle ones."""
    state.storage.reset()
    _IDLE.append(state)


def _mem_expand(ctx_address: int, offset: int, size: int) -> int:
    state = _ACTIVE[ctx_address]
    frame = state.frame
    try:
        frame.gas = state.ctx.gas
        expand(frame, offset, size)
        return 0
    except ExceptionalHalt as halt:
        return state.halt(halt)
    except BaseException as error:
        return state.fail(error)
    finally:
        state.ctx.gas = frame.gas


def _sload_entry(ctx_address: int, words: int) -> int:
    """SLOAD's entry: the builtin, then the slot entered with the original value it
    read on the way (:func:`~evmkiln.builtins.impl.storage.sload_with_original`).

    The most frequent crossing of real contracts (every first read of a slot),
    so it does in one function what the generic entry does in several.
    """
    state = _ACTIVE[ctx_address]
    frame = state.frame
    ctx = state.ctx
    try:
        cell = _WORD.from_address(words)
        slot = int.from_bytes(cell.raw, "little")
        frame.gas = ctx.gas
        value, original = sload_with_original(frame, slot)
        cell.raw = value.to_bytes(WORD_BYTES, "little")
        state.storage.remember(slot, value, original)
        return 0
    except ExceptionalHalt as halt:
        return state.halt(halt)
    except BaseException as error:
        return state.fail(error)
    finally:
        ctx.gas = frame.gas


def _sstore_entry(ctx_address: int, words: int) -> int:
    """SSTORE's entry: the builtin, then the slot entered with its new value and the
    original value the builtin read to price it
    (:func:`~evmkiln.builtins.impl.storage.sstore_with_original`).

    Every first write of a slot the frame has not read crosses, so it does in
    one function what the generic entry does in several.
    """
    state = _ACTIVE[ctx_address]
    frame = state.frame
    ctx = state.ctx
    try:
        packed = int.from_bytes(_TWO_WORDS.from_address(words).raw, "little")
        slot = packed & _WORD_MASK
        value = packed >> 8 * WORD_BYTES
        frame.gas = ctx.gas
        original = sstore_with_original(frame, slot, value)
        state.storage.remember(slot, value, original)
        return 0
    except ExceptionalHalt as halt:
        return state.halt(halt)
    except BaseException as error:
        return state.fail(error)
    finally:
        ctx.gas = frame.gas


def _before_frames(table: StorageTable, frame: Frame) -> int:
    """Ahead of a builtin that may run other frames: they must see this frame's writes.

    Returns the host's mark of the frames run so far, for :func:`_after_frames`.
    """
    table.write_back()
    return frame.host.frames_mark()


def _after_frames(table: StorageTable, frame: Frame, mark: int) -> None:
    """After it: the table stays valid unless a frame on this account's storage ran.

    Only such a frame (a re-entrant call, a DELEGATECALL of this frame or of a
    frame it reached, whatever the depth) can have changed this account's
    storage or transient storage; any other left every entry's value as it
    was, and warm (a reverted child cannot make cold a slot warmed before
    it).  So a contract that reads its slots, calls out and writes them back
    (a reentrancy guard, a pair updating its reserves) keeps them native.
    A table of more than :data:`~evmkiln.builtins.host.KEPT_ENTRIES_LIMIT`
    entries is forgotten all the same (write-back before each call checks
    every kept entry).
    """
    if table.entered_count() > KEPT_ENTRIES_LIMIT or frame.host.frame_ran_at(frame.address, mark):
        table.forget()


def _storage_hooks(name: str) -> tuple[Any, Any]:
    """What a builtin's entry does to the frame's storage table: ``(before, after)``.

    ``before(table, frame)`` runs ahead of the builtin and returns what
    ``after(table, frame, args, result, token)`` receives once the builtin
    has succeeded (a halt or error ends the frame: nothing to keep).
    """
    if name == "tload":
        return None, lambda table, frame, args, result, _: table.remember_transient(args[0], result)
    if name == "tstore":
        return None, lambda table, frame, args, result, _: table.remember_transient(
            args[0], args[1]
        )
    if not BUILTINS[name].runs_frames:
        return None, None
    return _before_frames, lambda table, frame, args, result, mark: _after_frames(
        table, frame, mark
    )


_FROM_BYTES: Any = int.from_bytes
_LITTLE = itertools.repeat("little")
_ARGUMENTS = ctypes.c_char * (MAX_BUILTIN_WORDS * WORD_BYTES)
"""The argument area every function reserves for calls (its words, as bytes)."""


def _make_entry(sig: BuiltinSig) -> Any:
    if sig.name == "sload":
        return BUILTIN_ENTRY(_sload_entry)
    if sig.name == "sstore":
        return BUILTIN_ENTRY(_sstore_entry)
    impl = IMPLEMENTATIONS[sig.name]
    count = len(sig.params)
    # The argument words are split by a struct and converted by ``int.from_bytes`` in
    # ``map``: both in C, so an entry runs no bytecode per argument.
    split = struct.Struct(f"{WORD_BYTES}s" * count).unpack_from
    returns = bool(sig.results)
    # Only a child frame changes the return data (calls and creates set it).
    runs_frames = sig.runs_frames
    before, after = _storage_hooks(sig.name)
    # Logs buffered natively come before any log this builtin emits or lets a frame emit.
    emits_logs = sig.runs_frames or sig.name in LOG_BUILTINS

    def entry(ctx_address: int, words: int) -> int:
        state = _ACTIVE[ctx_address]
        frame = state.frame
        ctx = state.ctx
        try:
            if count:
                args = list(map(_FROM_BYTES, split(_ARGUMENTS.from_address(words)), _LITTLE))
            else:
                args = []
            frame.gas = ctx.gas
            if emits_logs:
                state.emit_logs()
            token = None if before is None else before(state.storage, frame)
            result = impl(frame, *args)
            if returns:
                _WORD.from_address(words).raw = int(result or 0).to_bytes(WORD_BYTES, "little")
            if after is not None:
                after(state.storage, frame, args, result, token)
            return 0
        except ExceptionalHalt as halt:
            return state.halt(halt)
        except BaseException as error:
            return state.fail(error)
        finally:
            ctx.gas = frame.gas
            if runs_frames:
                state.borrow_returndata()

    entry.__name__ = f"entry_{sig.name}"
    return BUILTIN_ENTRY(entry)


# The callbacks must outlive every compiled function: they live for the process.
_ENTRIES: list[Any] = [MEM_EXPAND_ENTRY(_mem_expand)] + [
    _make_entry(BUILTINS[name]) for name in ENTRY_NAMES[1:]
]
_ENTRY_TABLE = (ctypes.c_void_p * len(_ENTRIES))(
    *[ctypes.cast(e, ctypes.c_void_p).value for e in _ENTRIES]
)
ENTRY_TABLE_ADDRESS: int = ctypes.addressof(_ENTRY_TABLE)
"""Address of the entry table every context points at."""
