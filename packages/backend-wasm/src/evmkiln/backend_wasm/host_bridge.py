"""Cheap crossings between Python and wasm through wasmtime's unchecked C API.

wasmtime-py's ``Func.__call__`` and Python-defined ``Func`` imports convert
every argument through ``Val`` objects and type-check each call: about 35 us
into wasm and 16 us back out on the development machine.  The C API has
"unchecked" variants that pass a flat array of raw values instead:

* into wasm: ``wasmtime_func_call_unchecked`` called through a ctypes
  prototype taking plain ``void*`` (integers), so ctypes does no per-argument
  conversion: ~1.5 us per call;
* out of wasm: an import created with ``wasmtime_func_new_unchecked`` whose
  callback is a raw ctypes ``CFUNCTYPE``: ~1 us per crossing.

The caller is responsible for types: both crossings here have fixed
signatures (``run() -> i32`` and ``host(i32) -> i32``), checked once when the
import is created and the export looked up.

A Python exception must never unwind into wasm (ctypes would print and
swallow it, returning garbage).  :func:`make_host_import` therefore wraps the
handler: any exception is stored on the returned :class:`HostImport` and the
wasm side receives status 1, which generated code turns into an immediate
exit.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

_CALL_UNCHECKED = ctypes.CFUNCTYPE(
    ctypes.c_void_p,  # wasmtime_error_t*
    ctypes.c_void_p,  # wasmtime_context_t*
    ctypes.c_void_p,  # const wasmtime_func_t*
    ctypes.c_void_p,  # wasmtime_val_raw_t* args_and_results
    ctypes.c_size_t,
    ctypes.c_void_p,  # wasm_trap_t**
)(int(ctypes.cast(ffi.dll.wasmtime_func_call_unchecked, ctypes.c_void_p).value or 0))  # type: ignore[attr-defined]

_NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))


class WasmTrapError(RuntimeError):
    """Generated code trapped: a backend bug (code is meant to be trap-free by construction)."""


class WasmStackExhaustedError(RuntimeError):
    """Nested frames used up the native stack reserved for them.

    EVM calls nest at most 1024 deep and the runtime sizes threads for that
    (see :mod:`.runtime`), so this is a resource failure of the host process,
    never an EVM outcome: it is raised instead of entering wasm once too
    little native stack is left, and wasmtime's own "call stack exhausted"
    trap is reported as this error too.
    """


class WasmMemoryError(RuntimeError):
    """Linear memory could not grow: the process ran out of address space.

    Gas bounds EVM memory, and a frame that may pay for its growth must get
    it, so a refusal is a resource failure of the host process, like
    :class:`WasmStackExhaustedError`, never an EVM outcome (in particular not
    out of gas).
    """


def context_address(store: wasmtime.Store) -> int:
    """The store's ``wasmtime_context_t*`` as an integer."""
    return int(ctypes.cast(store._context(), ctypes.c_void_p).value or 0)


class HostImport:
    """A ``host(i32) -> i32`` import backed by a Python handler, plus its error slot."""

    def __init__(self, store: wasmtime.Store, handler: Callable[[int], int]) -> None:
        self.error: BaseException | None = None
        self.values: Any = None
        """The argument array of the latest crossing: it lives in wasmtime's
        trampoline frame, so its address marks how deep the native stack is."""
        ty = wasmtime.FuncType([wasmtime.ValType.i32()], [wasmtime.ValType.i32()])

        def callback(env: Any, caller: Any, values: Any, count: int) -> int:
            self.values = values
            try:
                values[0].i32 = handler(values[0].i32)
            except BaseException as exc:  # never let it unwind through wasm
                self.error = exc
                values[0].i32 = 1
            return 0

        # The ctypes thunk must outlive the function: keep it on self.
        self._callback = ffi.wasmtime_func_unchecked_callback_t(callback)
        raw = ffi.wasmtime_func_t()
        ffi.wasmtime_func_new_unchecked(
            store._context(), ty.ptr(), self._callback, None, _NO_FINALIZER, ctypes.byref(raw)
        )
        self.func = wasmtime.Func._from_raw(raw)


class FastCall:
    """Calls a ``() -> i32`` export through ``wasmtime_func_call_unchecked``."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        if list(ty.params) or [str(t) for t in ty.results] != ["i32"]:
            raise TypeError(f"FastCall needs a () -> i32 export, got {ty}")
        self._store = store
        self._func = func._func  # keep the struct alive
        self._ctx = context_address(store)
        self._fptr = ctypes.addressof(self._func)
        self._values = (ffi.wasmtime_val_raw_t * 1)()
        self._vptr = ctypes.addressof(self._values)
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._tptr = ctypes.addressof(self._trap)

    def __call__(self) -> int:
        err = _CALL_UNCHECKED(self._ctx, self._fptr, self._vptr, 1, self._tptr)
        if err:
            error = wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t))
            )
            raise WasmTrapError(str(error))
        if self._trap:
            owned = ctypes.cast(self._trap, ctypes.POINTER(ffi.wasm_trap_t))
            ctypes.memset(self._tptr, 0, ctypes.sizeof(ctypes.c_void_p))
            message = str(wasmtime.Trap._from_ptr(owned))
            if "call stack exhausted" in message:
                raise WasmStackExhaustedError(message)
            raise WasmTrapError(message)
        return int(self._values[0].i32)


def memory_address(store: wasmtime.Store, memory: wasmtime.Memory) -> int:
    """Base address of a linear memory: valid until the memory next grows (it may move)."""
    ptr = ffi.wasmtime_memory_data(store._context(), ctypes.byref(memory._memory))
    return int(ctypes.cast(ptr, ctypes.c_void_p).value or 0)


def set_async_stack_size(config: wasmtime.Config, size: int) -> bool:
    """``Config.async_stack_size`` (not wrapped by wasmtime-py); False if the C API lacks it.

    wasmtime refuses a ``max_wasm_stack`` above the async stack size even
    when async support is off, so raising one means raising the other.
    """
    fn = getattr(ffi.dll, "wasmtime_config_async_stack_size_set", None)  # type: ignore[attr-defined]
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fn.restype = None
    fn(ctypes.cast(config.ptr(), ctypes.c_void_p), size)
    return True


def address_of(pointer: Any) -> int:
    """The address a ctypes pointer holds."""
    return int(ctypes.cast(pointer, ctypes.c_void_p).value or 0)
