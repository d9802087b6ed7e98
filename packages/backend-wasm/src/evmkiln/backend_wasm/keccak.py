"""KECCAK256 inside the module: Keccak-f[1600] on i64 lanes and the sponge over EVM memory.

Each crossing into Python costs more than hashing a few words (snailtracer
hashes 5,500 times per transaction), so the hash runs in wasm.  The state
lives in linear memory (``KECCAK_STATE``) between permutations; the
permutation loads it into 25 locals, runs the 24 rounds, two per loop
iteration (round constants read from ``KECCAK_RC``, a data segment), and
stores it back.  The sponge
absorbs whole 136-byte blocks straight from EVM memory -- wasm is
little-endian, the byte order Keccak's lanes use -- and pads the last
partial block in ``KECCAK_BUF``; an input of exactly one or two words
(a word's hash, a mapping's slot) is written into the state lane by lane
instead (:func:`_words`).  The digest's 32 bytes are lanes 0-3; read
as a big-endian word they are the byte-swapped lanes in reverse order.

The caller has expanded memory over the input and charged its words, so
every address here is inside the EVM memory it may read.
"""

from __future__ import annotations

import struct

from evmkiln.backend_wasm.encoding import I32, I64, DataSegment, Func, FuncType, Instr
from evmkiln.backend_wasm.layout import KECCAK_BUF, KECCAK_RC, KECCAK_STATE
from evmkiln.builtins.keccak_constants import RATE, ROTATIONS, ROUND_CONSTANTS, ROUNDS, pi_target

LANES = 25
RATE_LANES = RATE // 8


def round_constants() -> DataSegment:
    """The data segment the permutation reads its iota constants from."""
    return DataSegment(KECCAK_RC, struct.pack(f"<{ROUNDS}Q", *ROUND_CONSTANTS))


ROUNDS_PER_ITERATION = 2
"""Rounds written out per iteration of the round loop: the lanes go from one set
of locals to the other and back, so the loop carries no copies."""
_PI_SOURCE = {pi_target(i): i for i in range(LANES)}
"""For each lane of rho-and-pi's output, the input lane it comes from."""


def keccakf() -> Func:
    """``keccakf()``: permute the state at ``KECCAK_STATE`` in place.

    Each round reads one set of 25 lane locals and writes the other.  chi
    reads only lanes of one plane, so each output plane is finished right
    after its five rho-and-pi lanes (five ``b`` locals, not 25), which
    keeps fewer values live at once.
    """
    a, n, c, d, b = 0, LANES, 2 * LANES, 2 * LANES + 5, 2 * LANES + 10
    rnd = 2 * LANES + 15

    def get(i: int) -> Instr:
        return ("local.get", i)

    def put(i: int) -> Instr:
        return ("local.set", i)

    def one_round(src: int, dst: int, k: int) -> list[Instr]:
        out: list[Instr] = []
        for x in range(5):  # theta
            out += [get(src + x), get(src + x + 5), ("i64.xor",), get(src + x + 10), ("i64.xor",)]
            out += [get(src + x + 15), ("i64.xor",), get(src + x + 20), ("i64.xor",), put(c + x)]
        for x in range(5):
            out += [get(c + (x - 1) % 5), get(c + (x + 1) % 5), ("i64.const", 1), ("i64.rotl",)]
            out += [("i64.xor",), put(d + x)]
        for y in range(5):
            for x in range(5):  # rho and pi into this plane: B[y, 2x+3y] = rot(A[x, y])
                i = _PI_SOURCE[x + 5 * y]
                out += [get(src + i), get(d + i % 5), ("i64.xor",)]
                if ROTATIONS[i]:
                    out += [("i64.const", ROTATIONS[i]), ("i64.rotl",)]
                out += [put(b + x)]
            for x in range(5):  # chi
                out += [get(b + x), get(b + (x + 1) % 5), ("i64.const", -1), ("i64.xor",)]
                out += [get(b + (x + 2) % 5), ("i64.and",), ("i64.xor",), put(dst + x + 5 * y)]
        # iota
        out += [get(dst), get(rnd), ("i32.const", 3), ("i32.shl",)]
        out += [("i64.load", 3, KECCAK_RC + 8 * k), ("i64.xor",), put(dst)]
        return out

    body: list[Instr] = []
    for i in range(LANES):
        body += [("i32.const", 0), ("i64.load", 3, KECCAK_STATE + 8 * i), put(a + i)]
    body += [("i32.const", 0), put(rnd), ("loop", None)]
    body += one_round(a, n, 0) + one_round(n, a, 1)
    body += [get(rnd), ("i32.const", ROUNDS_PER_ITERATION), ("i32.add",), ("local.tee", rnd)]
    body += [("i32.const", ROUNDS), ("i32.lt_u",), ("br_if", 0), ("end",)]
    for i in range(LANES):
        body += [("i32.const", 0), get(a + i), ("i64.store", 3, KECCAK_STATE + 8 * i)]
    return Func("keccakf", FuncType((), ()), [I64] * (2 * LANES + 15) + [I32], body)


def _absorb(source: list[Instr], offset: int) -> list[Instr]:
    """Xor ``RATE`` bytes at ``source`` (an i32 address expression) + ``offset`` into the state."""
    out: list[Instr] = []
    for i in range(RATE_LANES):
        out += [("i32.const", 0), ("i32.const", 0), ("i64.load", 3, KECCAK_STATE + 8 * i)]
        out += [*source, ("i64.load", 0, offset + 8 * i), ("i64.xor",)]
        out += [("i64.store", 3, KECCAK_STATE + 8 * i)]
    return out


def _pad(area: int, size: int) -> list[Instr]:
    """Xor Keccak's padding into the block at ``area`` holding local ``size`` bytes:
    0x01 after them, 0x80 in the last byte of the rate."""
    out: list[Instr] = [("local.get", size), ("local.get", size), ("i64.load8_u", 0, area)]
    out += [("i64.const", 0x01), ("i64.xor",), ("i64.store8", 0, area)]
    out += [("i32.const", 0), ("i32.const", 0), ("i64.load8_u", 0, area + RATE - 1)]
    out += [("i64.const", 0x80), ("i64.xor",), ("i64.store8", 0, area + RATE - 1)]
    return out


WORD_PATHS = (1, 2)
"""Input lengths, in 32-byte words, hashed without ``memory.fill`` and ``memory.copy``."""


def _words(count: int, ptr: int) -> list[Instr]:
    """The state for an input of exactly ``count`` words at local ``ptr``, padded.

    Each of the 25 lanes is stored whole: the input's, 0x01 in the lane after
    them, 0x80 in the top byte of the rate's last lane, zero elsewhere.  Two
    runtime calls (fill and copy) and the byte-wide padding stores give way
    to 25 eight-byte stores the permutation's loads forward from.
    """
    lanes = 4 * count
    out: list[Instr] = []
    for i in range(LANES):
        out += [("i32.const", 0)]
        if i < lanes:
            out += [("local.get", ptr), ("i64.load", 0, 8 * i)]
        else:
            out += [("i64.const", 1 if i == lanes else 0x80 << 56 if i == RATE_LANES - 1 else 0)]
        out += [("i64.store", 3, KECCAK_STATE + 8 * i)]
    return out


def keccak256(memory_base: int, keccakf_index: int, bswap_index: int) -> Func:
    """``keccak256(offset: i32, size: i32) -> (l0, l1, l2, l3)`` over EVM memory."""
    ptr, size = 0, 1
    words: list[Instr] = []
    for count in WORD_PATHS:
        words += [("local.get", size), ("i32.const", 32 * count), ("i32.eq",), ("if", None)]
        words += [*_words(count, ptr), ("call", keccakf_index), ("br", 1), ("end",)]
    body: list[Instr] = [
        ("local.get", ptr), ("i32.const", memory_base), ("i32.add",), ("local.set", ptr),
        ("block", None),
        *words,
        ("i32.const", KECCAK_STATE), ("i32.const", 0), ("i32.const", 8 * LANES), ("memory.fill",),
        ("block", None),
        ("local.get", size), ("i32.const", RATE), ("i32.ge_u",), ("br_if", 0),
        # One block (every hash of a word or two): the state is zero, so xor-ing
        # the padded block into it is copying the input and the two padding bits.
        ("i32.const", KECCAK_STATE), ("local.get", ptr), ("local.get", size), ("memory.copy",),
        *_pad(KECCAK_STATE, size),
        ("call", keccakf_index),
        ("br", 1), ("end",),
        ("block", None), ("loop", None),
        ("local.get", size), ("i32.const", RATE), ("i32.lt_u",), ("br_if", 1),
        *_absorb([("local.get", ptr)], 0),
        ("call", keccakf_index),
        ("local.get", ptr), ("i32.const", RATE), ("i32.add",), ("local.set", ptr),
        ("local.get", size), ("i32.const", RATE), ("i32.sub",), ("local.set", size),
        ("br", 0), ("end",), ("end",),
        # The last, partial block (possibly empty) with the 0x01 .. 0x80 padding.
        ("i32.const", KECCAK_BUF), ("i32.const", 0), ("i32.const", RATE), ("memory.fill",),
        ("i32.const", KECCAK_BUF), ("local.get", ptr), ("local.get", size), ("memory.copy",),
        *_pad(KECCAK_BUF, size),
        *_absorb([("i32.const", 0)], KECCAK_BUF),
        ("call", keccakf_index),
        ("end",),
    ]  # fmt: skip
    for lane in (3, 2, 1, 0):
        body += [("i32.const", 0), ("i64.load", 3, KECCAK_STATE + 8 * lane)]
        body += [("call", bswap_index)]
    return Func("keccak256", FuncType((I32, I32), (I64,) * 4), [], body)
