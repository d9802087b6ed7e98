"""Semantics of the pure word instructions, as Python functions on ints.

The reference backend executes these, and lowering and analysis use them to
fold constants; keeping one definition means the folder can never disagree
with the interpreter.  All values are unsigned 256-bit patterns.
"""

from __future__ import annotations

from collections.abc import Callable

MASK = (1 << 256) - 1
SIGN = 1 << 255


def to_signed(x: int) -> int:
    return x - (1 << 256) if x & SIGN else x


def _sdiv(a: int, b: int) -> int:
    if b == 0:
        return 0
    sa, sb = to_signed(a), to_signed(b)
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & MASK


def _smod(a: int, b: int) -> int:
    if b == 0:
        return 0
    sa, sb = to_signed(a), to_signed(b)
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & MASK


def _signextend(b: int, x: int) -> int:
    if b >= 31:
        return x
    sign_bit = 1 << (b * 8 + 7)
    if x & sign_bit:
        return x | ((1 << 256) - sign_bit)
    return x & (sign_bit - 1)


def _byte(i: int, x: int) -> int:
    return 0 if i >= 32 else (x >> (248 - 8 * i)) & 0xFF


def _sar(shift: int, x: int) -> int:
    if shift >= 256:
        return MASK if x & SIGN else 0
    return (to_signed(x) >> shift) & MASK


BINARY: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: (a + b) & MASK,
    "sub": lambda a, b: (a - b) & MASK,
    "mul": lambda a, b: (a * b) & MASK,
    "div": lambda a, b: a // b if b else 0,
    "sdiv": _sdiv,
    "mod": lambda a, b: a % b if b else 0,
    "smod": _smod,
    "exp": lambda a, b: pow(a, b, 1 << 256),
    "signextend": _signextend,
    "lt": lambda a, b: int(a < b),
    "gt": lambda a, b: int(a > b),
    "slt": lambda a, b: int(to_signed(a) < to_signed(b)),
    "sgt": lambda a, b: int(to_signed(a) > to_signed(b)),
    "eq": lambda a, b: int(a == b),
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "byte": _byte,
    "shl": lambda s, x: (x << s) & MASK if s < 256 else 0,
    "shr": lambda s, x: x >> s if s < 256 else 0,
    "sar": _sar,
}

TERNARY: dict[str, Callable[[int, int, int], int]] = {
    "addmod": lambda a, b, n: (a + b) % n if n else 0,
    "mulmod": lambda a, b, n: (a * b) % n if n else 0,
}

UNARY: dict[str, Callable[[int], int]] = {
    "iszero": lambda a: int(a == 0),
    "not": lambda a: MASK ^ a,
    "clz": lambda a: 256 - a.bit_length(),
}


def bytelen(x: int) -> int:
    """Number of significant bytes of ``x`` (EXP charges per exponent byte)."""
    return (x.bit_length() + 7) // 8
