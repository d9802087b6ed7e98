"""Frame-local environment reads: who is running, with what input and value.

These never touch the host and never halt; they only turn frame fields into
stack words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def address(frame: Frame) -> int:
    return int.from_bytes(frame.address, "big")


def caller(frame: Frame) -> int:
    return int.from_bytes(frame.caller, "big")


def callvalue(frame: Frame) -> int:
    return frame.value


def calldataload(frame: Frame, offset: int) -> int:
    """The 32 call-data bytes at ``offset``, zero beyond the end of the data."""
    data = frame.calldata
    if offset >= len(data):
        return 0
    chunk = data[offset : offset + 32]
    value = int.from_bytes(chunk, "big")
    if len(chunk) < 32:
        value <<= 8 * (32 - len(chunk))
    return value


def calldatasize(frame: Frame) -> int:
    return len(frame.calldata)


def returndatasize(frame: Frame) -> int:
    return len(frame.returndata)
