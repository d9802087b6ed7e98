"""Programs as sequences of snippets with no regard for stack shape.

A snippet is a push (biased towards interesting words and small offsets), a
single opcode from one of the families below, a label, a static or dynamic
jump to the n-th label (resolved after layout), a call into another contract,
or an exit.  Random stack shapes mean many such programs halt early
(underflow, bad jumps, out of gas): those halts must match too.

The same snippet language has two drivers: :func:`random_snippets` (the
fuzzer's seeded generator) and the hypothesis strategies of the test suite,
which draw from the lists defined here.
"""

from __future__ import annotations

import random

from evmkiln.fuzz.asm import push

INTERESTING = [0, 1, 2, 3, 7, 31, 32, 33, 64, 255, 256, 2**64 - 1, 2**128, 2**255, 2**256 - 1]
SMALL_OFFSETS = [0, 1, 4, 31, 32, 64, 96, 128, 1000]

ARITH = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B]
COMPARE_BITS = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D]
ENV = [0x30, 0x32, 0x33, 0x34, 0x35, 0x36, 0x38, 0x3A, 0x3D, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46,
       0x47, 0x48, 0x4A, 0x58, 0x59, 0x5A, 0x5F]  # fmt: skip
MEMORY = [0x20, 0x37, 0x39, 0x3E, 0x51, 0x52, 0x53, 0x5E]
STATE = [0x31, 0x3B, 0x3C, 0x3F, 0x40, 0x49, 0x54, 0x55, 0x5C, 0x5D, 0xA0, 0xA1, 0xA2]
STACK = [0x50, 0x80, 0x81, 0x82, 0x83, 0x8F, 0x90, 0x91, 0x92, 0x9F]
RARE = [0xFE, 0x0C, 0xEF, 0x00]  # INVALID, undefined opcodes, STOP

JUMPS = ("jump", "jumpi", "djump", "djumpi")
CALLS = ("call", "staticcall", "delegatecall")
EXITS = ("return", "revert")

Snippet = tuple[str, int]
"""(kind, argument): ``("push", word)``, ``("op", byte)``, ``("label", 0)``, a jump
to label ``n``, a call with shape ``n``, or an exit of ``n`` bytes."""


def _emit_jump(kind: str, dest: int) -> bytes:
    out = b"\x61" + dest.to_bytes(2, "big")
    if kind.startswith("d"):
        out += b"\x34\x01"  # CALLVALUE ADD: the same target, known only at run time
    return out + (b"\x56" if kind.endswith("jump") else b"\x57")


def _emit_call(kind: str, arg: int, other: bytes) -> bytes:
    # retSize retOff argsSize argsOff [value] addr gas
    out = push(32) + push(arg * 32) + push(arg * 4) + push(0)
    if kind == "call":
        out += push(arg % 2)
    out += push(int.from_bytes(other, "big")) + push(20_000 * (arg + 1))
    return out + bytes([{"call": 0xF1, "staticcall": 0xFA, "delegatecall": 0xF4}[kind]])


def assemble(snippets: list[Snippet], other: bytes) -> bytes:
    """Lay out snippets; jumps go to the n-th label (or to pc 1 if there is none)."""

    def emit(label_pcs: list[int]) -> bytes:
        out = bytearray()
        for kind, arg in snippets:
            if kind == "push":
                out += push(arg)
            elif kind == "op":
                out.append(arg)
            elif kind == "label":
                out.append(0x5B)
            elif kind in JUMPS:
                out += _emit_jump(kind, label_pcs[arg % len(label_pcs)] if label_pcs else 1)
            elif kind in CALLS:
                out += _emit_call(kind, arg, other)
            else:
                out += push(arg) + push(0) + bytes([0xF3 if kind == "return" else 0xFD])
        return bytes(out)

    # Two passes: jump snippets have a fixed size, so label pcs are stable.
    code = emit([])
    pcs = []
    pc = 0
    while pc < len(code):
        op = code[pc]
        if op == 0x5B:
            pcs.append(pc)
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return emit(pcs)


def random_snippet(rng: random.Random) -> Snippet:
    """One snippet, drawn with the same weights as the hypothesis strategy's branches."""
    branch = rng.randrange(10)
    if branch == 0:
        pick = rng.randrange(3)
        if pick == 0:
            return ("push", rng.choice(INTERESTING))
        if pick == 1:
            return ("push", rng.choice(SMALL_OFFSETS))
        return ("push", rng.getrandbits(256))
    if branch == 1:
        return ("push", rng.choice(SMALL_OFFSETS))
    if branch == 2:
        return ("op", rng.choice(ARITH + COMPARE_BITS))
    if branch == 3:
        return ("op", rng.choice(ENV + MEMORY + STACK))
    if branch == 4:
        return ("op", rng.choice(STATE))
    if branch == 5:
        return ("op", rng.choice(RARE))
    if branch == 6:
        return ("label", 0)
    if branch == 7:
        return (rng.choice(JUMPS), rng.randrange(8))
    if branch == 8:
        return (rng.choice(CALLS), rng.randrange(4))
    return (rng.choice(EXITS), rng.choice([0, 32, 64]))


def random_snippets(rng: random.Random, max_size: int = 60) -> list[Snippet]:
    """A snippet program of 1 to ``max_size`` snippets."""
    return [random_snippet(rng) for _ in range(rng.randint(1, max_size))]
