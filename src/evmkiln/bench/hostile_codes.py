"""Bytecode crafted to make compiling expensive, for measuring what a compile costs per byte.

Each shape repeats a few bytes to the length asked for and pushes on one
thing the compiler's cost grows with: blocks (JUMPDESTs), jump-table
entries and dynamic jump sites, the stack carried into every block, builtin
crossings, loops with many back edges.  None of them needs to run
meaningfully: what matters is what lowering and the backends make of them.
``scripts/compile_cost.py`` measures them phase by phase, the hostile tests
check that each compiles within bounds or is refused by the compile budget
(:mod:`evmkiln.codegen.budget`).
"""

from __future__ import annotations

from collections.abc import Callable

PUSH0 = b"\x5f"
JUMPDEST = b"\x5b"


def _fill(prefix: bytes, unit: bytes, length: int) -> bytes:
    """``prefix`` followed by ``unit`` repeated, cut to ``length`` bytes."""
    count = max(0, length - len(prefix) + len(unit) - 1) // len(unit)
    return (prefix + unit * count)[:length]


def _calldatasize_jumpis(length: int, targets: int = 64) -> bytes:
    """``CALLDATASIZE PUSH2 t JUMPI`` repeated, over ``targets`` JUMPDEST STOP exits at the end."""
    units = max(1, (length - 2 * targets) // 5)
    exits = [units * 5 + 2 * i for i in range(targets)]
    body = b"".join(
        bytes([0x36, 0x61, exits[u % targets] >> 8, exits[u % targets] & 0xFF, 0x57])
        for u in range(units)
    )
    return body + b"\x5b\x00" * targets


def _return_calls(length: int, push_first: bool = False) -> bytes:
    """Internal calls of one shared function: ``[PUSH0] PUSH2 ret PUSH2 f JUMP ret: JUMPDEST``
    repeated, then ``STOP`` and ``f: JUMPDEST JUMP``, which returns through the stack.

    The function's return jump has as many destinations as there are calls
    (jump resolution gives up past its bound); with ``push_first`` every call
    is one slot deeper, so the function is entered at ever more heights.
    """
    unit = 9 if push_first else 8
    units = max(1, (length - 3) // unit)
    f = units * unit + 1
    out = bytearray()
    for _ in range(units):
        if push_first:
            out += PUSH0
        ret = len(out) + 7
        out += bytes([0x61, ret >> 8, ret & 0xFF, 0x61, f >> 8, f & 0xFF, 0x56]) + JUMPDEST
    return bytes(out) + b"\x00\x5b\x56"


SHAPES: dict[str, Callable[[int], bytes]] = {
    # PUSH1 1, then JUMPDESTs: stQuadraticComplexityTest's Call20KbytesContract50_2.
    "jumpdests": lambda n: _fill(b"\x60\x01", JUMPDEST, n),
    # (PUSH1 1 JUMPDEST)*: a block per 3 bytes, each one slot deeper.
    "push_jumpdest": lambda n: _fill(b"", b"\x60\x01\x5b", n),
    # (JUMPDEST PUSH0)*: the same with 2-byte blocks.
    "jumpdest_push0": lambda n: _fill(b"", b"\x5b\x5f", n),
    # One dynamic jump, then JUMPDESTs: every byte a jump-table entry.
    "jump_table": lambda n: _fill(b"\x5f\x35\x56", JUMPDEST, n),
    # (JUMPDEST DUP1 JUMP)*: a dynamic jump site and a destination every 3 bytes.
    "dynamic_jumps": lambda n: _fill(b"", b"\x5b\x80\x56", n),
    # A 64-deep stack carried through a run of JUMPDESTs: 64 block parameters per byte.
    "deep_jumpdests": lambda n: _fill(PUSH0 * 64, JUMPDEST, n),
    # The same behind a dynamic JUMPI: two versions of every JUMPDEST.
    "deep_jump_table": lambda n: _fill(PUSH0 * 64 + b"\x5f\x35\x57", JUMPDEST, n),
    # A 64-deep stack and a dynamic JUMPI every 3 bytes: the stack spilled at each.
    "deep_dynamic_jumpis": lambda n: _fill(PUSH0 * 64, b"\x36\x80\x57", n),
    # (PUSH0 BALANCE POP)*: one block of builtin crossings.
    "crossings": lambda n: _fill(b"", b"\x5f\x31\x50", n),
    # (JUMPDEST PUSH0 PUSH0 PUSH0 CALLDATALOAD JUMP)*: identical blocks meeting at the dispatch.
    "dispatch_stores": lambda n: _fill(b"", b"\x5b\x5f\x5f\x5f\x35\x56", n),
    # (JUMPDEST SSTORE(0, 0) PUSH0 CALLDATALOAD JUMP)*: the same with a storage write each.
    "dispatch_sstores": lambda n: _fill(b"", b"\x5b\x5f\x5f\x55\x5f\x35\x56", n),
    # JUMPDEST, (SSTORE(0, 0) JUMPI(0, CALLDATASIZE))*: a back edge to pc 0 every 6 bytes.
    "sstore_loop": lambda n: _fill(JUMPDEST, b"\x5f\x5f\x55\x36\x5f\x57", n),
    # (CALLDATASIZE PUSH2 t JUMPI)*: a conditional branch on the same word every 5 bytes.
    "calldatasize_jumpis": _calldatasize_jumpis,
    # (PUSH2 ret PUSH2 f JUMP JUMPDEST)*, f: JUMPDEST JUMP: a return jump with thousands of sites.
    "return_calls": _return_calls,
    # The same with a PUSH0 before each call: the function entered at every height.
    "stacked_calls": lambda n: _return_calls(n, push_first=True),
}
"""Shape name -> code of the given length (about: some shapes round down to a whole unit)."""


def hostile_code(shape: str, length: int) -> bytes:
    """The code of ``shape`` (a key of :data:`SHAPES`) at ``length`` bytes."""
    return SHAPES[shape](length)
