"""Copies into memory from call data, code, return data and memory itself.

Each follows the same order as the EVM: (bounds check for return data),
memory expansion, 3 gas per copied word, then the copy.  EXTCODECOPY, which
also pays an account access, lives with the other account reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.gas import charge
from evmkiln.builtins.memory import copy_words_gas, expand, write_padded

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def calldatacopy(frame: Frame, dest: int, offset: int, size: int) -> None:
    expand(frame, dest, size)
    charge(frame, copy_words_gas(size))
    write_padded(frame, dest, frame.calldata, offset, size)


def codecopy(frame: Frame, dest: int, offset: int, size: int) -> None:
    expand(frame, dest, size)
    charge(frame, copy_words_gas(size))
    write_padded(frame, dest, frame.code, offset, size)


def returndatacopy(frame: Frame, dest: int, offset: int, size: int) -> None:
    """Unlike the other copies, reading past the return data halts (EIP-211).

    The check covers empty copies too: an offset past the end halts even with
    ``size == 0``, and it comes before memory expansion.
    """
    if offset + size > len(frame.returndata):
        raise ExceptionalHalt(
            HaltKind.RETURNDATA_OUT_OF_BOUNDS,
            f"{offset}+{size} > {len(frame.returndata)}",
            offset=offset,
            size=size,
            available=len(frame.returndata),
        )
    expand(frame, dest, size)
    charge(frame, copy_words_gas(size))
    if size:
        frame.memory[dest : dest + size] = frame.returndata[offset : offset + size]


def mcopy(frame: Frame, dest: int, src: int, size: int) -> None:
    """EIP-5656: memory grows to cover the further of the two ranges; overlap is safe."""
    expand(frame, dest if dest > src else src, size)
    charge(frame, copy_words_gas(size))
    if size:
        memory = frame.memory
        memory[dest : dest + size] = memory[src : src + size]
