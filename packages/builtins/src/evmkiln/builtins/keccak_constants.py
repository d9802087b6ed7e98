"""Keccak-256 as backends write it natively: the constants of Keccak-f[1600] and the sponge.

The ``keccak256`` builtin is the one host-free builtin worth running inside
generated code (hash-heavy contracts call it thousands of times per
transaction), so every native backend carries its own permutation.  They
share these constants, derived here from the Keccak reference rather than
copied as tables.  The padding is the original Keccak's (``0x01 .. 0x80``),
as ``eth_hash`` computes it.
"""

from __future__ import annotations

RATE = 136
"""Bytes absorbed per permutation by Keccak-256 (1600 - 2*256 bits)."""
ROUNDS = 24


def _round_constants() -> tuple[int, ...]:
    """The iota constants, from the LFSR of the Keccak reference."""
    constants = []
    r = 1
    for _ in range(ROUNDS):
        rc = 0
        for j in range(7):
            r = ((r << 1) ^ ((r >> 7) * 0x71)) & 0xFF
            if r & 2:
                rc |= 1 << ((1 << j) - 1)
        constants.append(rc)
    return tuple(constants)


def _rotations() -> dict[int, int]:
    """The rho offsets by lane index ``x + 5*y``."""
    offsets = {0: 0}
    x, y = 1, 0
    for t in range(24):
        offsets[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


ROUND_CONSTANTS = _round_constants()
ROTATIONS = _rotations()


def pi_target(i: int) -> int:
    """Where rho-and-pi moves lane ``i`` (``B[y, 2x+3y] = rot(A[x, y])``)."""
    x, y = i % 5, i // 5
    return y + 5 * ((2 * x + 3 * y) % 5)
