"""Where the calling thread's native stack is, and how much of it is left.

Wasm frames re-enter Python and wasm again for every nested EVM call, so the
runtime must know how much native stack a run may still use before it starts
one (see :mod:`.runtime`).  Both answers come from the C library; where it
cannot give them, the callers take the safe path (a helper thread with a
stack of known size).
"""

from __future__ import annotations

import ctypes
from typing import Any

_libc: Any
try:
    _libc = ctypes.CDLL(None)
except OSError:  # pragma: no cover - a C library is always loadable on supported systems
    _libc = None


def thread_stack() -> tuple[int, int]:
    """(lowest address, size) of the calling thread's native stack; (0, 0) if unknown."""
    getattr_np = getattr(_libc, "pthread_getattr_np", None)
    if getattr_np is None:
        return 0, 0
    _libc.pthread_self.restype = ctypes.c_ulong
    attr = ctypes.create_string_buffer(256)  # pthread_attr_t is 56 bytes on glibc x86_64
    if getattr_np(ctypes.c_ulong(_libc.pthread_self()), attr) != 0:
        return 0, 0
    low, size = ctypes.c_void_p(), ctypes.c_size_t()
    try:
        if _libc.pthread_attr_getstack(attr, ctypes.byref(low), ctypes.byref(size)) != 0:
            return 0, 0
    finally:
        _libc.pthread_attr_destroy(attr)
    return int(low.value or 0), int(size.value)


class _Probe:
    """Reads an address in the caller's current native stack frame, in about a microsecond.

    ``dl_iterate_phdr`` passes its callback a pointer to a structure in its
    own stack frame, one frame below the caller's: that pointer is the probe's
    reading.  The callback stops the iteration at the first object.
    """

    _PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)

    def __init__(self, iterate: Any) -> None:
        self.reading = 0
        self._iterate = iterate
        iterate.argtypes = [self._PROTOTYPE, ctypes.c_void_p]
        iterate.restype = ctypes.c_int

        def callback(info: int | None, size: int, data: int | None) -> int:
            self.reading = info or 0
            return 1

        self._callback = self._PROTOTYPE(callback)  # kept alive with the probe

    def __call__(self) -> int:
        self.reading = 0
        self._iterate(self._callback, None)
        return self.reading


_PROBE: _Probe | None = None
if _libc is not None and hasattr(_libc, "dl_iterate_phdr"):
    _PROBE = _Probe(_libc.dl_iterate_phdr)


def stack_left(low: int, size: int) -> int:
    """Bytes of native stack left below the caller, on a stack of ``size`` bytes from ``low``.

    Stacks grow down on every platform the runtime supports, so what is left
    is the distance from the current frame down to the lowest address.  0
    when unknown: no probe, unknown bounds, or a reading outside them.
    """
    if _PROBE is None or not low:
        return 0
    here = _PROBE()
    return here - low if low < here <= low + size else 0
