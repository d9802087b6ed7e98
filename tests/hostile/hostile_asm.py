"""The comparison helpers of the hostile-bytecode tests, and the assembler they use.

Programs are written with :mod:`evmkiln.fuzz.asm` (re-exported here): an
``int`` is pushed (shortest PUSH, PUSH0 for zero), ``bytes`` are emitted as
they are, a ``str`` is an opcode mnemonic, and ``Label``/``Ref`` give jump
targets resolved after layout.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth.vm.forks.cancun import CancunVM

from evmkiln.codegen.evm.opcodes import BY_NAME
from evmkiln.context import make_vm_class
from evmkiln.fuzz.asm import Item as Item
from evmkiln.fuzz.asm import Label as Label
from evmkiln.fuzz.asm import Ref as Ref
from evmkiln.fuzz.asm import asm as asm
from evmkiln.fuzz.asm import push as push
from evmkiln.fuzz.execute import Outcome, execute

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

OPCODES: dict[str, int] = {name: info.code for name, info in BY_NAME.items()}
"""Mnemonic -> opcode byte, from codegen's Cancun table."""


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
    return make_vm_class(
        backend=backend, interpret_on_compile_error=False, replay_inexact_halts=False, fork="cancun"
    )


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
