"""The runtime context: one layout shared by Python and the generated code.

Generated code receives a single pointer, to a :class:`RuntimeContext`.  The
field list below is declared once; :class:`RuntimeContext` (ctypes) and
:func:`llvm_context_type` (the LLVM struct the translator indexes into) are
both derived from it, so the two sides cannot drift apart.  Every field is 8
bytes wide, or a 32-byte ``word`` (four 64-bit limbs, little-endian) aligned
to 8, so the C layout has no padding to agree on.

Fields:

``gas``
    Gas left.  The generated code charges against this field directly; a
    builtin crossing copies it into ``frame.gas`` and back.
``mem_ptr`` / ``mem_len`` / ``mem_cap``
    The frame's memory: a zero-filled native buffer of ``mem_cap`` bytes of
    which the first ``mem_len`` (msize) are addressable (see
    :mod:`evmkiln.backend_llvm.frame_memory`).
``stack``
    The stack buffer: 1024 little-endian 32-byte words.
``calldata_ptr`` / ``calldata_len``, ``code_ptr`` / ``code_len``
    Read-only views of ``frame.calldata`` and ``frame.code`` for the native
    builtins (calldataload, calldatasize, calldatacopy, codecopy).
``returndata_ptr`` / ``returndata_len``
    Read-only view of ``frame.returndata``; refreshed after every crossing
    into the host (the only builtins that replace it).

    These three point into ``bytes`` objects' own buffers, with no copy.  The
    run state writes them with the other message fields in one ``pack_into``
    and keeps the objects alive while the context points at them
    (:class:`~evmkiln.backend_llvm.builtin_bridge.RunState`); from Python,
    assigning a ``bytes`` object to the field does the same.
``value`` / ``caller`` / ``address``
    ``frame.value`` and the two addresses as little-endian words, for the
    native CALLVALUE, CALLER and ADDRESS.
``status``
    How the run ended (:data:`STATUS_HALT`, :data:`STATUS_ERROR` or an
    ``ExitKind`` value); also the function's return value.
``halt_kind``
    The ``HaltKind`` when ``status`` is :data:`STATUS_HALT`.
``out_offset`` / ``out_size``
    The memory range RETURN / REVERT hand back.
``entries``
    The table of native entry points (builtin bridges and runtime helpers),
    indexed by :data:`evmkiln.backend_llvm.builtin_bridge.ENTRY_INDEX`.
``sl_ptr`` / ``sl_mask`` / ``sl_gen``
    The frame's table of known storage slots, its index mask and the
    generation an entry must carry to be valid (see
    :mod:`evmkiln.backend_llvm.storage_cache`).
``refund``
    Gas refund (signed) of the SSTOREs priced in native code; added to
    ``frame.refund`` when the run ends.
``static``
    1 in a static frame (native SSTORE then defers to the builtin, which halts).
``lg_ptr`` / ``lg_len`` / ``lg_cap``
    The frame's buffer of logs not yet handed to the host: ``lg_len`` of its
    ``lg_cap`` bytes are used (see :mod:`evmkiln.backend_llvm.log_buffer`).
"""

from __future__ import annotations

import ctypes
from typing import Any, Literal

from llvmlite import ir

FieldKind = Literal["i64", "ptr", "bytes", "word"]

FIELDS: tuple[tuple[str, FieldKind], ...] = (
    ("gas", "i64"),
    ("mem_ptr", "ptr"),
    ("mem_len", "i64"),
    ("mem_cap", "i64"),
    ("stack", "ptr"),
    ("calldata_ptr", "bytes"),
    ("calldata_len", "i64"),
    ("code_ptr", "bytes"),
    ("code_len", "i64"),
    ("returndata_ptr", "bytes"),
    ("returndata_len", "i64"),
    ("status", "i64"),
    ("halt_kind", "i64"),
    ("out_offset", "i64"),
    ("out_size", "i64"),
    ("entries", "ptr"),
    ("sl_ptr", "ptr"),
    ("sl_mask", "i64"),
    ("sl_gen", "i64"),
    ("refund", "i64"),
    ("static", "i64"),
    ("lg_ptr", "ptr"),
    ("lg_len", "i64"),
    ("lg_cap", "i64"),
    ("value", "word"),
    ("caller", "word"),
    ("address", "word"),
)

FIELD_INDEX: dict[str, int] = {name: i for i, (name, _) in enumerate(FIELDS)}

STACK_LIMIT = 1024
"""Words in the stack buffer."""
WORD_BYTES = 32

STATUS_ERROR = 0xFE
"""A Python exception other than a halt escaped a builtin; it is re-raised after the run."""
STATUS_HALT = 0xFF
"""An exceptional halt; the kind is in ``halt_kind``."""

_CTYPES: dict[FieldKind, Any] = {
    "i64": ctypes.c_int64,
    "ptr": ctypes.c_void_p,
    "bytes": ctypes.c_char_p,
    "word": ctypes.c_uint64 * 4,
}


class RuntimeContext(ctypes.Structure):
    """The context as Python sees it (fields from :data:`FIELDS`)."""

    _fields_ = [(name, _CTYPES[kind]) for name, kind in FIELDS]

    # Declared for the type checker; ctypes creates the descriptors.
    gas: int
    mem_ptr: int | None
    mem_len: int
    mem_cap: int
    stack: int | None
    calldata_ptr: bytes | None
    calldata_len: int
    code_ptr: bytes | None
    code_len: int
    returndata_ptr: bytes | None
    returndata_len: int
    status: int
    halt_kind: int
    out_offset: int
    out_size: int
    entries: int | None
    sl_ptr: int | None
    sl_mask: int
    sl_gen: int
    refund: int
    static: int
    lg_ptr: int | None
    lg_len: int
    lg_cap: int
    value: Any
    caller: Any
    address: Any


FIELD_OFFSET: dict[str, int] = {name: getattr(RuntimeContext, name).offset for name, _ in FIELDS}
"""Byte offset of every field (what the generated code indexes with)."""


I64: dict[str, int] = {name: FIELD_OFFSET[name] // 8 for name, kind in FIELDS if kind != "word"}
"""Index of every 8-byte field in :func:`int64_view` (pointers read as addresses)."""

MESSAGE_WORDS = slice(FIELD_OFFSET["value"], FIELD_OFFSET["value"] + 96)
"""Bytes of ``value``, ``caller`` and ``address``, adjacent words (checked below)."""
if (FIELD_OFFSET["caller"], FIELD_OFFSET["address"]) != (
    FIELD_OFFSET["value"] + 32,
    FIELD_OFFSET["value"] + 64,
):  # pragma: no cover - a layout edit that breaks MESSAGE_WORDS
    raise RuntimeError("value, caller and address must be adjacent context words")


def int64_view(ctx: RuntimeContext) -> memoryview:
    """The context as signed 64-bit integers, indexed by :data:`I64`.

    Reading and writing through the view is much cheaper than through the
    ctypes field descriptors, which matters on the few fields set for every
    frame.
    """
    return memoryview(ctx).cast("B").cast("q")


def llvm_context_type() -> Any:
    """The LLVM struct type with the same layout as :class:`RuntimeContext`."""
    kinds: dict[FieldKind, Any] = {
        "i64": ir.IntType(64),
        "ptr": ir.PointerType(),
        "bytes": ir.PointerType(),
        "word": ir.ArrayType(ir.IntType(64), 4),
    }
    return ir.LiteralStructType([kinds[kind] for _, kind in FIELDS])
