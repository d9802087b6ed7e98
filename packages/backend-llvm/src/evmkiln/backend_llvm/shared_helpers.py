"""Helpers compiled once per process and called by every JIT-compiled module.

The ``keccak256`` helper is about a thousand lines of LLVM IR, and every
module that hashes used to carry its own copy: 55 ms of each such compile
under the optimising code generator, 15-30 ms under the fast one, paid again
for every contract (most Solidity contracts hash: every mapping access does).
JIT modules now only declare it (:func:`evmkiln.backend_llvm.translate.translate`
with ``shared_helpers=True``); the process compiles it once, with the
optimising code generator whatever tier the caller is on, and makes its
address known to MCJIT's linker under the helper's name (:func:`ensure`),
which resolves the modules' calls when they are linked -- in process, or
from a compiler process's object file.

Ahead-of-time artifacts keep their own copy (an internal definition): a
shared library must load into a process that has not compiled anything.
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm

from evmkiln.backend_llvm import jit, keccak

SHARED: dict[str, str] = {
    "keccak256": "declare i256 @evmkiln.keccak256(ptr, i64)",
}
"""The shared helpers (keys of the translator's helper table) and their declarations."""

SHARED_CODEGEN = 2
"""The code generator level the shared helpers get: the optimising one, always."""

_lock = threading.Lock()
_compiled: list[jit.Compiled] = []
"""The helpers' machine code, kept for the life of the process (modules call into it)."""


def _module_text() -> str:
    from evmkiln.backend_llvm.native import INTRINSICS

    exported = keccak.keccak256(keccak.host_lanes(), exported=True)
    return f"{INTRINSICS}\n{exported}"


def ensure() -> None:
    """Compile the shared helpers and publish their addresses, once per process.

    Call before linking a module translated with ``shared_helpers=True``.
    The module lives in an LLVM context of its own, so any thread may be the
    first to call this.
    """
    if _compiled:
        return
    with _lock:
        if _compiled:
            return
        context = llvm.create_context()
        module = jit.parse(_module_text(), 2, context)
        compiled = jit.compile_module(module, "evmkiln.keccak256", SHARED_CODEGEN, context)
        llvm.add_symbol("evmkiln.keccak256", compiled.address)
        _compiled.append(compiled)


def address(name: str) -> int:
    """The address of shared helper ``name`` (after :func:`ensure`)."""
    if name not in SHARED:
        raise KeyError(f"{name} is not a shared helper")
    ensure()
    return int(llvm.address_of_symbol(f"evmkiln.{name}"))
