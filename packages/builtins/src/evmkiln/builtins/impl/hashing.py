"""KECCAK256 over a memory range."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.impl.gas import KECCAK_WORD, charge
from evmkiln.builtins.keccak_backend import keccak256 as keccak
from evmkiln.builtins.memory import expand

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def keccak256(frame: Frame, offset: int, size: int) -> int:
    """Hash ``memory[offset:offset+size]``: memory expansion, then 6 gas per word."""
    expand(frame, offset, size)
    charge(frame, KECCAK_WORD * ((size + 31) >> 5))
    data = frame.memory[offset : offset + size] if size else b""
    digest = int.from_bytes(keccak(data), "big")
    if frame.on_keccak is not None:
        frame.on_keccak(bytes(data), digest)
    return digest
