"""The runtime context: one layout shared by Python and the generated code.

Generated code receives a single pointer, to a :class:`RuntimeContext`.  The
field list below is declared once; :class:`RuntimeContext` (ctypes) and
:func:`llvm_context_type` (the LLVM struct the translator indexes into) are
both derived from it, so the two sides cannot drift apart.  Every field is 8
bytes wide and naturally aligned, so the C layout has no padding to agree on.

Fields:

``gas``
    Gas left.  The generated code charges against this field directly; a
    builtin crossing copies it into ``frame.gas`` and back.
``mem_ptr`` / ``mem_len``
    Borrowed pointer to the frame's memory bytearray and its length (see
    :mod:`evmkiln.backend_llvm.builtin_bridge` for the ownership rules).
``stack``
    The stack buffer: 1024 little-endian 32-byte words.
``calldata_ptr`` / ``calldata_len``, ``code_ptr`` / ``code_len``
    Read-only views of ``frame.calldata`` and ``frame.code`` for native
    builtins (calldataload, codecopy) to come.
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
"""

from __future__ import annotations

import ctypes
from typing import Any, Literal

from llvmlite import ir

FieldKind = Literal["i64", "ptr"]

FIELDS: tuple[tuple[str, FieldKind], ...] = (
    ("gas", "i64"),
    ("mem_ptr", "ptr"),
    ("mem_len", "i64"),
    ("stack", "ptr"),
    ("calldata_ptr", "ptr"),
    ("calldata_len", "i64"),
    ("code_ptr", "ptr"),
    ("code_len", "i64"),
    ("status", "i64"),
    ("halt_kind", "i64"),
    ("out_offset", "i64"),
    ("out_size", "i64"),
    ("entries", "ptr"),
)

FIELD_INDEX: dict[str, int] = {name: i for i, (name, _) in enumerate(FIELDS)}

STACK_LIMIT = 1024
"""Words in the stack buffer."""
WORD_BYTES = 32

STATUS_ERROR = 0xFE
"""A Python exception other than a halt escaped a builtin; it is re-raised after the run."""
STATUS_HALT = 0xFF
"""An exceptional halt; the kind is in ``halt_kind``."""

_CTYPES: dict[FieldKind, Any] = {"i64": ctypes.c_int64, "ptr": ctypes.c_void_p}


class RuntimeContext(ctypes.Structure):
    """The context as Python sees it (fields from :data:`FIELDS`)."""

    _fields_ = [(name, _CTYPES[kind]) for name, kind in FIELDS]

    # Declared for the type checker; ctypes creates the descriptors.
    gas: int
    mem_ptr: int | None
    mem_len: int
    stack: int | None
    calldata_ptr: int | None
    calldata_len: int
    code_ptr: int | None
    code_len: int
    status: int
    halt_kind: int
    out_offset: int
    out_size: int
    entries: int | None


def llvm_context_type() -> Any:
    """The LLVM struct type with the same layout as :class:`RuntimeContext`."""
    kinds: dict[FieldKind, Any] = {"i64": ir.IntType(64), "ptr": ir.PointerType()}
    return ir.LiteralStructType([kinds[kind] for _, kind in FIELDS])
