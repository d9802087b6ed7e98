"""EVM word operations as LLVM IR text, matching :mod:`evmkiln.codegen.ir.semantics`.

LLVM leaves several corner cases undefined that the EVM defines: division by
zero, ``INT_MIN / -1``, shifts by the width or more.  Each emitter below makes
the operand safe *before* the LLVM instruction (a divisor of 1, a masked shift
amount) and then selects the EVM's answer, so no poison or UB is ever created.

Emitters take an :class:`Emitter` (anything with ``op(text) -> name`` and
``need(helper)``) and operand names, and return the result's name.  Wide
division and ``exp`` are outlined into ``noinline`` helpers, defined once per
module (see :data:`HELPERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Emitter(Protocol):
    def op(self, text: str) -> str:
        """Append ``%name = text`` and return ``%name``."""
        ...

    def need(self, helper: str) -> None:
        """Make sure the module defines ``helper`` (a key of :data:`HELPERS`)."""
        ...


def word(value: int, bits: int = 256) -> str:
    """An integer literal of width ``bits``, wrapped (written signed, as LLVM prints it)."""
    value &= (1 << bits) - 1
    if bits > 1 and value >> (bits - 1):
        value -= 1 << bits
    return str(value)


ALL_ONES = "-1"

Emit2 = Callable[[Emitter, str, str], str]


def _bool(e: Emitter, cond: str) -> str:
    return e.op(f"zext i1 {cond} to i256")


def _simple(opcode: str) -> Emit2:
    return lambda e, x, y: e.op(f"{opcode} i256 {x}, {y}")


def _cmp(pred: str) -> Emit2:
    return lambda e, x, y: _bool(e, e.op(f"icmp {pred} i256 {x}, {y}"))


def _outlined(name: str, arity: int) -> Callable[..., str]:
    def emit(e: Emitter, *args: str) -> str:
        e.need(name)
        operands = ", ".join(f"i256 {a}" for a in args)
        return e.op(f"call i256 @evmkiln.{name}({operands})")

    emit.__name__ = f"emit_{name}"
    return emit


def _signextend(e: Emitter, k: str, x: str) -> str:
    small = e.op(f"icmp ult i256 {k}, 31")
    safe_k = e.op(f"select i1 {small}, i256 {k}, i256 0")
    shift = e.op(f"sub i256 248, {e.op(f'shl i256 {safe_k}, 3')}")
    extended = e.op(f"ashr i256 {e.op(f'shl i256 {x}, {shift}')}, {shift}")
    return e.op(f"select i1 {small}, i256 {extended}, i256 {x}")


def _byte(e: Emitter, i: str, x: str) -> str:
    inside = e.op(f"icmp ult i256 {i}, 32")
    safe_i = e.op(f"select i1 {inside}, i256 {i}, i256 0")
    shift = e.op(f"sub i256 248, {e.op(f'shl i256 {safe_i}, 3')}")
    v = e.op(f"and i256 {e.op(f'lshr i256 {x}, {shift}')}, 255")
    return e.op(f"select i1 {inside}, i256 {v}, i256 0")


def _shift(opcode: str) -> Emit2:
    def emit(e: Emitter, s: str, x: str) -> str:
        ok = e.op(f"icmp ult i256 {s}, 256")
        shifted = e.op(f"{opcode} i256 {x}, {e.op(f'and i256 {s}, 255')}")
        other = e.op(f"ashr i256 {x}, 255") if opcode == "ashr" else "0"
        return e.op(f"select i1 {ok}, i256 {shifted}, i256 {other}")

    return emit


BINARY: dict[str, Emit2] = {
    "add": _simple("add"),
    "sub": _simple("sub"),
    "mul": _simple("mul"),
    "div": _outlined("div", 2),
    "sdiv": _outlined("sdiv", 2),
    "mod": _outlined("mod", 2),
    "smod": _outlined("smod", 2),
    "exp": _outlined("exp", 2),
    "signextend": _signextend,
    "lt": _cmp("ult"),
    "gt": _cmp("ugt"),
    "slt": _cmp("slt"),
    "sgt": _cmp("sgt"),
    "eq": _cmp("eq"),
    "and": _simple("and"),
    "or": _simple("or"),
    "xor": _simple("xor"),
    "byte": _byte,
    "shl": _shift("shl"),
    "shr": _shift("lshr"),
    "sar": _shift("ashr"),
}

TERNARY: dict[str, Callable[[Emitter, str, str, str], str]] = {
    "addmod": _outlined("addmod", 3),
    "mulmod": _outlined("mulmod", 3),
}

UNARY: dict[str, Callable[[Emitter, str], str]] = {
    "iszero": lambda e, x: _bool(e, e.op(f"icmp eq i256 {x}, 0")),
    "not": lambda e, x: e.op(f"xor i256 {x}, -1"),
    # EIP-7939 (Osaka): ctlz is defined for zero with the flag off, and gives 256.
    "clz": lambda e, x: e.op(f"call i256 @llvm.ctlz.i256(i256 {x}, i1 false)"),
}


def bytelen(e: Emitter, x: str) -> str:
    """Significant bytes of ``x`` as i64: ``(256 - clz(x) + 7) // 8``."""
    clz = e.op(f"call i256 @llvm.ctlz.i256(i256 {x}, i1 false)")
    bits = e.op(f"sub i256 263, {clz}")
    return e.op(f"trunc i256 {e.op(f'lshr i256 {bits}, 3')} to i64")


# Wide division legalises into a shift-subtract loop of a few hundred machine
# instructions; inlining one per use site made large contracts take seconds
# (and gigabytes) to compile, for no gain: the loop dominates the call.
_NOINLINE = "noinline nounwind"


def _modular(name: str, opcode: str) -> str:
    """ADDMOD/MULMOD: the exact sum or product in 512 bits, reduced; modulus 0 gives 0."""
    return f"""define internal i256 @evmkiln.{name}(i256 %x, i256 %y, i256 %n) {_NOINLINE} {{
  %xw = zext i256 %x to i512
  %yw = zext i256 %y to i512
  %w = {opcode} i512 %xw, %yw
  %z = icmp eq i256 %n, 0
  %d = select i1 %z, i256 1, i256 %n
  %dw = zext i256 %d to i512
  %q = urem i512 %w, %dw
  %t = trunc i512 %q to i256
  %r = select i1 %z, i256 0, i256 %t
  ret i256 %r
}}"""


REQUIRES: dict[str, tuple[str, ...]] = {
    "div": ("udivrem",),
    "mod": ("udivrem",),
    "sdiv": ("udivrem",),
    "smod": ("udivrem",),
}
"""Helpers that call other helpers."""


def _udivrem_limbs() -> str:
    """Long division of ``x`` by a divisor under 2^32, one 32-bit limb at a time.

    Each step divides ``remainder << 32 | limb`` (below 2^64, since the
    remainder is below the divisor) with one native 64-bit division.
    """
    lines = ["limbs:", "  %d = trunc i256 %y to i64"]
    rem = "0"
    quotient = "0"
    for i in range(7, -1, -1):
        lines += [
            f"  %s{i} = lshr i256 %x, {32 * i}",
            f"  %t{i} = trunc i256 %s{i} to i32",
            f"  %l{i} = zext i32 %t{i} to i64",
            f"  %h{i} = shl i64 {rem}, 32",
            f"  %n{i} = or i64 %h{i}, %l{i}",
            f"  %qd{i} = udiv i64 %n{i}, %d",
            f"  %m{i} = mul i64 %qd{i}, %d",
            f"  %r{i} = sub i64 %n{i}, %m{i}",
            f"  %qw{i} = zext i64 %qd{i} to i256",
            f"  %qs{i} = shl i256 %qw{i}, {32 * i}",
            f"  %q{i} = or i256 {quotient}, %qs{i}",
        ]
        rem, quotient = f"%r{i}", f"%q{i}"
    lines += [
        f"  %rl = zext i64 {rem} to i256",
        f"  %pl0 = insertvalue {{i256, i256}} undef, i256 {quotient}, 0",
        "  %pl = insertvalue {i256, i256} %pl0, i256 %rl, 1",
        "  ret {i256, i256} %pl",
    ]
    return "\n".join(lines)


# Quotient and remainder of ``x / y`` for ``y != 0``, the core of DIV, MOD,
# SDIV and SMOD.  LLVM legalises an i256 division into a shift-subtract loop
# over the operands' bits, hundreds of cycles even for small numbers; Solidity
# code mostly divides small values (fixed-point scaling, array arithmetic), so
# operands that fit 64 bits use one native division and divisors under 2^32
# use eight.  Only wider divisors take LLVM's generic loop.
_UDIVREM = f"""define internal {{i256, i256}} @evmkiln.udivrem(i256 %x, i256 %y) {_NOINLINE} {{
entry:
  %both = or i256 %x, %y
  %small = icmp ult i256 %both, 18446744073709551616
  br i1 %small, label %w64, label %wide
w64:
  %x64 = trunc i256 %x to i64
  %y64 = trunc i256 %y to i64
  %q64 = udiv i64 %x64, %y64
  %m64 = mul i64 %q64, %y64
  %r64 = sub i64 %x64, %m64
  %qs = zext i64 %q64 to i256
  %rs = zext i64 %r64 to i256
  %ps0 = insertvalue {{i256, i256}} undef, i256 %qs, 0
  %ps = insertvalue {{i256, i256}} %ps0, i256 %rs, 1
  ret {{i256, i256}} %ps
wide:
  %below = icmp ult i256 %x, %y
  br i1 %below, label %zero, label %bydivisor
zero:
  %pz0 = insertvalue {{i256, i256}} undef, i256 0, 0
  %pz = insertvalue {{i256, i256}} %pz0, i256 %x, 1
  ret {{i256, i256}} %pz
bydivisor:
  %narrow = icmp ult i256 %y, 4294967296
  br i1 %narrow, label %limbs, label %generic
{_udivrem_limbs()}
generic:
  %qg = udiv i256 %x, %y
  %mg = mul i256 %qg, %y
  %rg = sub i256 %x, %mg
  %pg0 = insertvalue {{i256, i256}} undef, i256 %qg, 0
  %pg = insertvalue {{i256, i256}} %pg0, i256 %rg, 1
  ret {{i256, i256}} %pg
}}"""


def _unsigned(name: str, part: int) -> str:
    """DIV (part 0) or MOD (part 1): a divisor of 0 gives 0."""
    return f"""define internal i256 @evmkiln.{name}(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %d = select i1 %z, i256 1, i256 %y
  %p = call {{i256, i256}} @evmkiln.udivrem(i256 %x, i256 %d)
  %v = extractvalue {{i256, i256}} %p, {part}
  %r = select i1 %z, i256 0, i256 %v
  ret i256 %r
}}"""


def _signed(name: str, part: int) -> str:
    """SDIV (part 0) or SMOD (part 1): magnitudes divided unsigned, the sign put back.

    |MIN| is 2^255 as an unsigned word, so MIN / -1 comes out as -(2^255) =
    MIN, the EVM's answer, with no overflow case.  The quotient is negative
    when the signs differ; the remainder takes the dividend's sign, like
    LLVM's srem.  A divisor of 0 gives 0.
    """
    negative = "%neg = xor i1 %xn, %yn" if part == 0 else "%neg = or i1 %xn, false"
    return f"""define internal i256 @evmkiln.{name}(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %xn = icmp slt i256 %x, 0
  %yn = icmp slt i256 %y, 0
  %xm = sub i256 0, %x
  %ax = select i1 %xn, i256 %xm, i256 %x
  %ym = sub i256 0, %y
  %ay = select i1 %yn, i256 %ym, i256 %y
  %d = select i1 %z, i256 1, i256 %ay
  %p = call {{i256, i256}} @evmkiln.udivrem(i256 %ax, i256 %d)
  %v = extractvalue {{i256, i256}} %p, {part}
  {negative}
  %vm = sub i256 0, %v
  %s = select i1 %neg, i256 %vm, i256 %v
  %r = select i1 %z, i256 0, i256 %s
  ret i256 %r
}}"""


HELPERS: dict[str, str] = {
    "udivrem": _UDIVREM,
    "div": _unsigned("div", 0),
    "mod": _unsigned("mod", 1),
    "sdiv": _signed("sdiv", 0),
    "smod": _signed("smod", 1),
    "addmod": _modular("addmod", "add"),
    "mulmod": _modular("mulmod", "mul"),
    # Square and multiply, ``exp(base, exponent) mod 2**256`` (at most 256 rounds).
    "exp": f"""define internal i256 @evmkiln.exp(i256 %base, i256 %exponent) {_NOINLINE} {{
entry:
  br label %loop
loop:
  %acc = phi i256 [ 1, %entry ], [ %acc2, %body ]
  %sq = phi i256 [ %base, %entry ], [ %sq2, %body ]
  %e = phi i256 [ %exponent, %entry ], [ %e2, %body ]
  %done = icmp eq i256 %e, 0
  br i1 %done, label %out, label %body
body:
  %odd = trunc i256 %e to i1
  %m = mul i256 %acc, %sq
  %acc2 = select i1 %odd, i256 %m, i256 %acc
  %sq2 = mul i256 %sq, %sq
  %e2 = lshr i256 %e, 1
  br label %loop
out:
  ret i256 %acc
}}""",
}
