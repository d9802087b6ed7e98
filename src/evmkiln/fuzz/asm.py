"""A small EVM assembler: a list of items becomes bytecode, labels resolved after layout.

Both the fuzzer's generators and hand-written test programs are written as
items rather than hex, so that a jump target is a name and not a pc that
breaks when code before it changes:

* an ``int`` is pushed with the shortest PUSH (PUSH0 for zero);
* ``bytes`` are emitted as they are (raw code, data, deliberately odd encodings);
* a ``str`` is an opcode mnemonic from codegen's Cancun opcode table;
* :class:`Label` places a JUMPDEST and names its pc, :class:`Mark` names a pc
  without emitting anything (a target that is *not* a JUMPDEST);
* :class:`Ref` pushes a named pc with a PUSH2, :class:`Addr` emits it as two
  raw bytes (a data section read back with CODECOPY, as Vyper's selector
  tables are).

References are fixed-width, so one layout pass finds every pc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evmkiln.codegen.evm.opcodes import BY_NAME

MAX_WORD = 2**256 - 1


@dataclass(frozen=True, slots=True)
class Label:
    """A JUMPDEST whose pc is known as ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Mark:
    """The pc of the next item, known as ``name``; emits nothing."""

    name: str


@dataclass(frozen=True, slots=True)
class Ref:
    """PUSH2 of a named pc."""

    name: str


@dataclass(frozen=True, slots=True)
class Addr:
    """A named pc as two raw big-endian bytes (no PUSH)."""

    name: str


Item = int | bytes | str | Label | Mark | Ref | Addr

_ITEM_TYPES = (int, bytes, str, Label, Mark, Ref, Addr)


def opcode(name: str) -> int:
    """The byte of mnemonic ``name`` (``KeyError`` for a name Cancun does not define)."""
    return BY_NAME[name].code


def push(value: int) -> bytes:
    """The shortest push of ``value``: PUSH0 for zero, else PUSH1..PUSH32."""
    if not 0 <= value <= MAX_WORD:
        raise ValueError(f"not a 256-bit word: {value}")
    if value == 0:
        return b"\x5f"
    n = (value.bit_length() + 7) // 8
    return bytes([0x5F + n]) + value.to_bytes(n, "big")


def flatten(items: Iterable[Item | Iterable[Item]]) -> list[Item]:
    """Items with nested sequences spliced in (``bytes`` and ``str`` stay whole)."""
    flat: list[Item] = []
    for item in items:
        if isinstance(item, _ITEM_TYPES):
            flat.append(item)
        else:
            flat.extend(item)
    return flat


def asm(*items: Item | Iterable[Item]) -> bytes:
    """Assemble ``items`` (sequences of items may be nested one level)."""
    flat = flatten(items)

    def emit(pcs: dict[str, int], final: bool) -> bytes:
        out = bytearray()
        for item in flat:
            if isinstance(item, Label):
                pcs[item.name] = len(out)
                out.append(0x5B)
            elif isinstance(item, Mark):
                pcs[item.name] = len(out)
            elif isinstance(item, Ref | Addr):
                pc = _resolve(pcs, item.name) if final else 0
                if isinstance(item, Ref):
                    out.append(0x61)
                out += pc.to_bytes(2, "big")
            elif isinstance(item, str):
                out.append(opcode(item))
            elif isinstance(item, bytes):
                out += item
            else:
                out += push(item)
        return bytes(out)

    pcs: dict[str, int] = {}
    emit(pcs, final=False)
    return emit(pcs, final=True)


def _resolve(pcs: dict[str, int], name: str) -> int:
    if name not in pcs:
        raise KeyError(f"reference to an undefined label {name!r}")
    pc = pcs[name]
    if pc > 0xFFFF:
        raise ValueError(f"label {name!r} at pc {pc} does not fit in two bytes")
    return pc
