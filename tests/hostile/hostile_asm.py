"""A tiny assembler and the comparison helper for the hostile-bytecode tests.

Programs are written as sequences of items: an ``int`` is pushed (shortest
PUSH, PUSH0 for zero), ``bytes`` are emitted as they are, and a ``str`` is an
opcode mnemonic.  ``Label``/``Ref`` give jump targets resolved after layout.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth.vm.forks.cancun import CancunVM
from evmharness import Outcome, execute

from evmkiln.context import make_vm_class

BACKENDS = ["ir", "llvm", "wasm"]

EXTREMES = [
    0,
    1,
    31,
    32,
    2**32 - 1,
    2**32,
    2**63,
    2**64 - 1,
    2**64,
    2**255,
    2**256 - 1,
]
"""Offsets and sizes around every width a backend might truncate a word to."""

OPCODES: dict[str, int] = {
    "STOP": 0x00,
    "ADD": 0x01,
    "MUL": 0x02,
    "SUB": 0x03,
    "MOD": 0x06,
    "LT": 0x10,
    "GT": 0x11,
    "EQ": 0x14,
    "ISZERO": 0x15,
    "NOT": 0x19,
    "KECCAK256": 0x20,
    "ADDRESS": 0x30,
    "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36,
    "CALLDATACOPY": 0x37,
    "CODESIZE": 0x38,
    "CODECOPY": 0x39,
    "EXTCODESIZE": 0x3B,
    "EXTCODECOPY": 0x3C,
    "RETURNDATASIZE": 0x3D,
    "RETURNDATACOPY": 0x3E,
    "POP": 0x50,
    "MLOAD": 0x51,
    "MSTORE": 0x52,
    "MSTORE8": 0x53,
    "SLOAD": 0x54,
    "SSTORE": 0x55,
    "JUMP": 0x56,
    "JUMPI": 0x57,
    "PC": 0x58,
    "MSIZE": 0x59,
    "GAS": 0x5A,
    "JUMPDEST": 0x5B,
    "TLOAD": 0x5C,
    "TSTORE": 0x5D,
    "MCOPY": 0x5E,
    "PUSH0": 0x5F,
    "DUP1": 0x80,
    "DUP2": 0x81,
    "DUP16": 0x8F,
    "SWAP1": 0x90,
    "SWAP16": 0x9F,
    "LOG0": 0xA0,
    "LOG1": 0xA1,
    "LOG2": 0xA2,
    "LOG3": 0xA3,
    "LOG4": 0xA4,
    "CREATE": 0xF0,
    "CALL": 0xF1,
    "CALLCODE": 0xF2,
    "RETURN": 0xF3,
    "DELEGATECALL": 0xF4,
    "CREATE2": 0xF5,
    "STATICCALL": 0xFA,
    "REVERT": 0xFD,
    "INVALID": 0xFE,
    "SELFDESTRUCT": 0xFF,
}


@dataclass(frozen=True)
class Label:
    name: str


@dataclass(frozen=True)
class Ref:
    """A PUSH2 of a label's pc."""

    name: str


Item = int | bytes | str | Label | Ref


def push(value: int) -> bytes:
    assert 0 <= value < 2**256
    if value == 0:
        return b"\x5f"
    n = (value.bit_length() + 7) // 8
    return bytes([0x5F + n]) + value.to_bytes(n, "big")


def asm(*items: Item | Iterable[Item]) -> bytes:
    flat: list[Item] = []
    for item in items:
        if isinstance(item, int | bytes | str | Label | Ref):
            flat.append(item)
        else:
            flat.extend(item)

    def emit(labels: dict[str, int], final: bool) -> bytes:
        out = bytearray()
        for item in flat:
            if isinstance(item, Label):
                labels[item.name] = len(out)
                out.append(0x5B)
            elif isinstance(item, Ref):
                pc = labels[item.name] if final else 0
                out += b"\x61" + pc.to_bytes(2, "big")
            elif isinstance(item, str):
                out.append(OPCODES[item])
            elif isinstance(item, bytes):
                out += item
            else:
                out += push(item)
        return bytes(out)

    labels: dict[str, int] = {}
    emit(labels, final=False)  # first pass: label pcs (Refs are fixed-width)
    return emit(labels, final=True)


@dataclass(frozen=True)
class Arg:
    """An operand under test: pushed as a constant, or loaded from calldata."""

    value: int


Part = Item | Arg | bytes


def build(parts: Iterable[Part], *, dynamic: bool, tail: bytes = b"") -> tuple[bytes, bytes]:
    """Code and calldata for a program with operands under test.

    With ``dynamic`` the n-th ``Arg`` is CALLDATALOADed from word n of the
    calldata (one code per program shape, compiled once for a whole grid of
    operands), else it is pushed as a constant.  ``tail`` follows the words.
    """
    items: list[Item] = []
    words: list[bytes] = []
    for part in parts:
        if not isinstance(part, Arg):
            items.append(part)
        elif dynamic:
            items += [32 * len(words), "CALLDATALOAD"]
            words.append(part.value.to_bytes(32, "big"))
        else:
            items.append(part.value)
    return asm(*items), b"".join(words) + tail


@functools.cache
def vm_class(backend: str) -> Any:
    if backend == "pyevm":
        return CancunVM
    return make_vm_class(backend=backend, interpret_on_compile_error=False)


@functools.cache
def _expected(codes: tuple[tuple[bytes, bytes], ...], kw: tuple[tuple[str, Any], ...]) -> Outcome:
    return execute(CancunVM, dict(codes), **dict(kw))


def expected(codes: dict[bytes, bytes], **kw: Any) -> Outcome:
    """py-evm's outcome (cached: every backend compares against the same run)."""
    return _expected(tuple(codes.items()), tuple(sorted(kw.items())))


def compare(backend: str, codes: dict[bytes, bytes], **kw: Any) -> Outcome:
    """Run on py-evm and on ``backend``; they must agree.  Returns py-evm's outcome."""
    want = expected(codes, **kw)
    got = execute(vm_class(backend), codes, **kw)
    assert got == want, (
        f"{backend} differs from py-evm (py-evm: {want.detail or 'ok'}, "
        f"{backend}: {got.detail or 'ok'}) for "
        + ", ".join(f"{addr.hex()[:4]}={code.hex()}" for addr, code in codes.items())
    )
    return want


Case = tuple[str, dict[bytes, bytes], dict[str, Any]]
"""A named transaction: the codes at their addresses and ``execute`` keywords."""


def mismatches(backend: str, cases: Iterable[Case]) -> list[str]:
    """Run many cases; the descriptions of those that differ from py-evm."""
    bad: list[str] = []
    for name, codes, kw in cases:
        want = expected(codes, **kw)
        got = execute(vm_class(backend), codes, **kw)
        if got != want:
            bad.append(f"{name}: py-evm {_brief(want)} vs {backend} {_brief(got)}")
    return bad


def _brief(o: Outcome) -> str:
    status = o.detail or "ok"
    return f"[{status} gas={o.gas_used} out={o.output.hex()[:80]} logs={len(o.logs)}]"
