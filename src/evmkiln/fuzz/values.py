"""The operands generated programs draw from: words, offsets, sizes, slots, addresses.

Uniformly random 256-bit words almost never hit the cases compilers get
wrong (sign bits, width boundaries, zero, the values next to them), so every
draw is biased towards such values, with a random word now and then.
"""

from __future__ import annotations

import random

from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, CONTRACT_C, SENDER

MAX_WORD = 2**256 - 1

BOUNDARY_WORDS = [
    0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 127, 128, 255, 256, 257,
    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
    2**127, 2**128 - 1, 2**128, 2**160 - 1, 2**192,
    2**255 - 1, 2**255, 2**255 + 1, MAX_WORD - 1, MAX_WORD,
]  # fmt: skip
"""Words at the edges of every width a backend might hold a value in, and signed limits."""

EXTREME_OFFSETS = [
    2**32 - 1, 2**32, 2**32 + 32, 2**63, 2**64 - 32, 2**64 - 1, 2**64, 2**128, 2**255, MAX_WORD,
]  # fmt: skip
"""Memory offsets and sizes no gas can pay for: each must halt, or cost nothing with size 0."""

COSTLY_OFFSETS = [1_000, 4_000, 10_000, 30_000, 65_536, 100_000, 300_000, 1_000_000, 2**22]
"""Offsets whose expansion is payable or just not, depending on the gas left."""

ADDRESS_WORDS = {
    "a": int.from_bytes(CONTRACT_A, "big"),
    "b": int.from_bytes(CONTRACT_B, "big"),
    "c": int.from_bytes(CONTRACT_C, "big"),
    "sender": int.from_bytes(SENDER, "big"),
    "empty": int.from_bytes(bytes.fromhex("de" * 20), "big"),
    "zero": 0,
}
"""Accounts a program may name: the contracts, the sender (an EOA), one that does not exist."""

PRECOMPILES = list(range(1, 11))


def word(rng: random.Random) -> int:
    """A word: mostly boundary values, small numbers and their neighbours, sometimes random."""
    r = rng.random()
    if r < 0.45:
        return rng.choice(BOUNDARY_WORDS)
    if r < 0.7:
        return rng.randrange(0, 300)
    if r < 0.8:
        return (rng.choice(BOUNDARY_WORDS) + rng.choice([-1, 1])) & MAX_WORD
    if r < 0.9:
        return rng.getrandbits(8 * rng.randint(1, 32))  # every PUSH width
    return rng.getrandbits(256)


def small(rng: random.Random) -> int:
    """A shift amount, byte index or sign-extension width: mostly in range, sometimes not."""
    if rng.random() < 0.85:
        return rng.choice([0, 1, 7, 8, 15, 16, 30, 31, 32, 33, 63, 64, 128, 200, 255, 256, 257])
    return rng.choice(BOUNDARY_WORDS)


def offset(rng: random.Random) -> int:
    """A memory offset: word-aligned and small mostly, unaligned sometimes."""
    r = rng.random()
    if r < 0.7:
        return 32 * rng.randrange(0, 16)
    if r < 0.9:
        return rng.randrange(0, 600)
    return rng.choice([0, 1, 31, 33, 1000, 2048])


def size(rng: random.Random) -> int:
    """A memory region size (for copies, hashing, logs, call data)."""
    return rng.choice([0, 0, 1, 4, 20, 31, 32, 32, 33, 36, 64, 64, 96, 100, 128, 200, 256])


def edge_offset(rng: random.Random) -> int:
    """An offset at the limits of memory: unpayable, payable only with much gas, or huge."""
    return rng.choice(EXTREME_OFFSETS) if rng.random() < 0.5 else rng.choice(COSTLY_OFFSETS)


def slot(rng: random.Random) -> int:
    """A storage or transient slot: a handful reused often, occasionally a wide key."""
    if rng.random() < 0.85:
        return rng.randrange(0, 6)
    return rng.choice([2**255, MAX_WORD, rng.getrandbits(256)])


def address(rng: random.Random, include_precompiles: bool = True) -> int:
    """An account to call or inspect."""
    r = rng.random()
    if r < 0.6:
        return ADDRESS_WORDS[rng.choice(["b", "c", "b", "c", "a"])]
    if r < 0.75 and include_precompiles:
        return rng.choice(PRECOMPILES)
    return ADDRESS_WORDS[rng.choice(["sender", "empty", "zero"])]
