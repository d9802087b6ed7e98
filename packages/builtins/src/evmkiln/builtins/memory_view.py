"""``frame.memory`` for backends whose EVM memory lives in a native buffer.

The builtins treat ``frame.memory`` as a ``bytearray``: ``len`` (msize),
contiguous slices read and assigned in place, single bytes, and ``extend``
(the only way memory grows, see :func:`evmkiln.builtins.memory.expand`).  A
backend that keeps memory in its own buffer -- so that generated code can
grow it and read it without crossing into Python -- hands the frame a
:class:`NativeMemoryView` over that buffer instead of copying memory in and
out around every crossing.  A subclass says where the bytes are
(:meth:`~NativeMemoryView.address`), how many there are (``__len__``) and how
to grow (:meth:`~NativeMemoryView.grow_to`); every access is checked against
the current size here, so no builtin can reach outside the buffer.
"""

from __future__ import annotations

import ctypes
from abc import ABC, abstractmethod
from typing import overload

ZERO_RUN = 16 << 10
"""Native memory up to this many bytes is cleared by copying :data:`ZEROS` into a
view of it (a C-level copy); only more pays for ``ctypes.memset``, a foreign
call of about a microsecond, more than copying a few kilobytes."""
ZEROS = memoryview(bytes(ZERO_RUN))
"""Zero bytes to clear native buffers with, sliced (read-only)."""


class NativeMemoryView(ABC):
    """EVM memory read and written in place in a native buffer."""

    __slots__ = ()

    @abstractmethod
    def address(self) -> int:
        """Address of memory byte 0 (may change when memory grows)."""

    @abstractmethod
    def __len__(self) -> int:
        """msize: the bytes currently addressable."""

    @abstractmethod
    def grow_to(self, size: int) -> None:
        """Make ``size`` bytes addressable; bytes past the old size must read as zero."""

    def _view_to(self, stop: int) -> memoryview | None:
        """A byte view of the buffer from byte 0 covering at least ``stop`` bytes, or
        None (then the bytes are reached through ctypes at :meth:`address`).

        A slice copied through a view costs a fraction of ``ctypes.string_at`` or
        ``memmove``, which are foreign calls; the view must be the buffer's
        current one (growth may move it).
        """
        return None

    def _range(self, key: slice) -> tuple[int, int]:
        start, stop, step = key.indices(len(self))
        if step != 1:
            raise ValueError("EVM memory view: only contiguous slices")
        return start, max(start, stop)

    def _index(self, key: int) -> int:
        size = len(self)
        index = key + size if key < 0 else key
        if not 0 <= index < size:
            raise IndexError("EVM memory index out of range")
        return index

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...
    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop = self._range(key)
            if stop <= start:
                return b""
            view = self._view_to(stop)
            if view is not None:
                return bytes(view[start:stop])
            return ctypes.string_at(self.address() + start, stop - start)
        return int(ctypes.c_ubyte.from_address(self.address() + self._index(key)).value)

    def __setitem__(self, key: int | slice, value: int | bytes | bytearray) -> None:
        if isinstance(key, slice):
            start, stop = self._range(key)
            data = value if isinstance(value, bytes) else bytes(value)
            if len(data) != stop - start:
                raise ValueError("EVM memory view cannot change size by assignment")
            if data:
                view = self._view_to(stop)
                if view is not None:
                    view[start:stop] = data
                else:
                    ctypes.memmove(self.address() + start, data, len(data))
            return
        if not isinstance(value, int):
            raise TypeError("a single memory byte takes an int")
        ctypes.c_ubyte.from_address(self.address() + self._index(key)).value = value

    def extend(self, data: bytes | bytearray) -> None:
        """Append ``data`` (what :func:`~evmkiln.builtins.memory.expand` does with zeros)."""
        size = len(self)
        stop = size + len(data)
        self.grow_to(stop)
        if any(data):  # grown bytes already read as zero
            view = self._view_to(stop)
            if view is not None:
                view[size:stop] = data
            else:
                ctypes.memmove(self.address() + size, bytes(data), len(data))

    def __bytes__(self) -> bytes:
        return self[:]
