"""The runtime state of one call frame, as seen by compiled code and builtins.

A frame holds what the bytecode of one message may touch directly: its gas
counter, memory, call data, code, the last return data and its own output.
Everything else (accounts, storage, logs, sub-calls) is reached through the
:class:`~evmkiln.builtins.host.Host` the frame carries.  Native backends mirror
these fields in a C layout and copy them in and out around host crossings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evmkiln.builtins.host import Host


@dataclass(slots=True, eq=False)
class Frame:
    """Mutable state of one executing call frame."""

    host: Host
    gas: int
    """Gas left in the frame.  Never negative: charges that would make it so halt."""
    code: bytes
    calldata: bytes
    address: bytes
    """The account whose storage this frame uses (the message's storage address)."""
    caller: bytes
    value: int
    is_static: bool
    depth: int
    memory: bytearray = field(default_factory=bytearray)
    returndata: bytes = b""
    output: bytes = b""
    refund: int = 0
    """Gas refund accumulated by this frame (may go negative, as EIP-2200 allows)."""
    keep_memory: bool = True
    """Whether a native run leaves the final memory in ``memory``.  The dispatching VM
    reads only a frame's output, and copying out a large memory costs (8 MB for
    snailtracer, 0.75 ms a run), so it sets this off; tests and tools keep it."""
    on_keccak: Callable[[bytes, int], None] | None = None
    """Told each KECCAK256's input and digest, by code compiled to trace them (see
    ``evmkiln.codegen.backend.TRACE_PREIMAGES``); ``None``: nobody asks."""
