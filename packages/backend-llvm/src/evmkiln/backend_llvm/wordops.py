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

import platform
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


# Division and exp are a few hundred machine instructions each (LLVM's own
# i256 division, which they once used, a shift-subtract loop); inlining one per
# use site made large contracts take seconds (and gigabytes) to compile, for no
# gain: the work dominates the call.
_NOINLINE = "noinline nounwind"


def _modular(name: str, opcode: str) -> str:
    """ADDMOD/MULMOD: the exact sum or product in 512 bits, reduced; modulus 0 gives 0.

    A sum or product below 2^256 (the common case: small operands) is reduced
    by ``udivrem``; a wider one by ``urem_wide``, Knuth's algorithm on up to
    16 digits.  Neither takes LLVM's bit-by-bit loop for i512.
    """
    return f"""define internal i256 @evmkiln.{name}(i256 %x, i256 %y, i256 %n) {_NOINLINE} {{
entry:
  %xw = zext i256 %x to i512
  %yw = zext i256 %y to i512
  %w = {opcode} i512 %xw, %yw
  %z = icmp eq i256 %n, 0
  %d = select i1 %z, i256 1, i256 %n
  %hi = lshr i512 %w, 256
  %fits = icmp eq i512 %hi, 0
  br i1 %fits, label %narrow, label %wide
narrow:
  %lo = trunc i512 %w to i256
  %p = call {{i256, i256}} @evmkiln.udivrem(i256 %lo, i256 %d)
  %rn = extractvalue {{i256, i256}} %p, 1
  br label %out
wide:
  %rw = call i256 @evmkiln.urem_wide(i512 %w, i256 %d)
  br label %out
out:
  %t = phi i256 [ %rn, %narrow ], [ %rw, %wide ]
  %r = select i1 %z, i256 0, i256 %t
  ret i256 %r
}}"""


REQUIRES: dict[str, tuple[str, ...]] = {
    "udivrem": ("knuth",),
    "urem_wide": ("knuth",),
    "addmod": ("udivrem", "urem_wide"),
    "mulmod": ("udivrem", "urem_wide"),
    "div": ("udivrem",),
    "mod": ("udivrem",),
    "sdiv": ("udivrem",),
    "smod": ("udivrem",),
}
"""Helpers that call other helpers."""


X86_64 = platform.machine().lower() in ("x86_64", "amd64")
"""Whether the host divides a 128-bit value by a 64-bit one in one instruction
(``div``); the code is only ever compiled for the host."""

DIVQ = '"divq $4", "={rax},={rdx},{rax},{rdx},r,~{dirflag},~{fpsr},~{flags}"'
"""``rdx:rax / r``: quotient in rax, remainder in rdx.  The instruction traps
when the quotient needs more than 64 bits, so the caller makes sure that
``rdx`` is below the divisor."""


def divide_two_words(e: Emitter, x128: str, y64: str) -> tuple[str, str]:
    """``x128 / y64`` (an i128 by a nonzero i64, on x86-64): the i128 quotient and the
    i64 remainder, with two hardware divisions.

    The high word divides first; its remainder is below the divisor, so the
    128-by-64 ``div`` of ``remainder:low word`` cannot trap.
    """
    low = e.op(f"trunc i128 {x128} to i64")
    high = e.op(f"trunc i128 {e.op(f'lshr i128 {x128}, 64')} to i64")
    q_high = e.op(f"udiv i64 {high}, {y64}")
    r_high = e.op(f"sub i64 {high}, {e.op(f'mul i64 {q_high}, {y64}')}")
    pair = e.op(f"call {{i64, i64}} asm {DIVQ}(i64 {low}, i64 {r_high}, i64 {y64})")
    q_low = e.op(f"zext i64 {e.op(f'extractvalue {{i64, i64}} {pair}, 0')} to i128")
    q_high_wide = e.op(f"shl i128 {e.op(f'zext i64 {q_high} to i128')}, 64")
    quotient = e.op(f"or i128 {q_high_wide}, {q_low}")
    return quotient, e.op(f"extractvalue {{i64, i64}} {pair}, 1")


class _Lines:
    """An :class:`Emitter` that writes a helper's lines (names ``%{tag}{n}``)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.lines: list[str] = []

    def op(self, text: str) -> str:
        name = f"%{self.tag}{len(self.lines)}"
        self.lines.append(f"  {name} = {text}")
        return name

    def need(self, helper: str) -> None:
        raise AssertionError(f"helper text cannot call {helper}")


def _udivrem_two_words() -> str:
    """A dividend under 2^128 by a divisor under 2^64 (on x86-64): :func:`divide_two_words`.

    Fixed-point code divides such values all the time (snailtracer: 38% of its
    352,000 SDIVs have a dividend of 65-128 bits), and without this they took
    Knuth's algorithm (a divisor of 2^32 or more) or eight 64-bit divisions.
    The translator divides most of them inline (:mod:`.inline_division`);
    ADDMOD and MULMOD reach this path.
    """
    narrow = [
        "  %narrow = icmp ult i256 %y, 4294967296",
        "  br i1 %narrow, label %limbs, label %generic",
    ]
    if not X86_64:
        return "\n".join(narrow)
    e = _Lines("tw")
    quotient, remainder = divide_two_words(
        e, e.op("trunc i256 %x to i128"), e.op("trunc i256 %y to i64")
    )
    q = e.op(f"zext i128 {quotient} to i256")
    r = e.op(f"zext i64 {remainder} to i256")
    pair = e.op(f"insertvalue {{i256, i256}} undef, i256 {q}, 0")
    pair = e.op(f"insertvalue {{i256, i256}} {pair}, i256 {r}, 1")
    return "\n".join(
        [
            "  %xtw = icmp ult i256 %x, 340282366920938463463374607431768211456",
            "  %yow = icmp ult i256 %y, 18446744073709551616",
            "  %tw = and i1 %xtw, %yow",
            "  br i1 %tw, label %w128, label %bywidth",
            "w128:",
            *e.lines,
            f"  ret {{i256, i256}} {pair}",
            "bywidth:",
            *narrow,
        ]
    )


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


# Knuth's algorithm D (TAOCP 4.3.1; Hacker's Delight's ``divmnu``) on 32-bit
# digits, each held in an i64 so that a quotient estimate is one native 64-bit
# division and a digit product never overflows.  The caller normalises: the
# divisor's ``n`` digits at ``%vn`` shifted left until the top one has its high
# bit set, the dividend's ``m`` digits at ``%un`` shifted by as much into
# ``m + 1`` digits, with ``m >= n >= 1``.  The quotient's ``m - n + 1`` digits
# go to ``%q``; the normalised remainder is left in ``%un[0..n-1]`` and every
# digit above it is zero.
_KNUTH_SIGNATURE = "void @evmkiln.knuth(ptr %un, ptr %vn, ptr %q, i64 %m, i64 %n)"
_KNUTH = f"""define internal {_KNUTH_SIGNATURE} {_NOINLINE} {{
entry:
  %n1 = sub i64 %n, 1
  %pv1 = getelementptr i64, ptr %vn, i64 %n1
  %v1 = load i64, ptr %pv1
  %single = icmp eq i64 %n, 1
  br i1 %single, label %short, label %long
short:
  %pm = getelementptr i64, ptr %un, i64 %m
  %rtop = load i64, ptr %pm
  store i64 0, ptr %pm
  %jtop = sub i64 %m, 1
  br label %sloop
sloop:
  %sj = phi i64 [ %jtop, %short ], [ %sjn, %sloop ]
  %sr = phi i64 [ %rtop, %short ], [ %srn, %sloop ]
  %psu = getelementptr i64, ptr %un, i64 %sj
  %su = load i64, ptr %psu
  %sh = shl i64 %sr, 32
  %snum = or i64 %sh, %su
  %sq = udiv i64 %snum, %v1
  %sqv = mul i64 %sq, %v1
  %srn = sub i64 %snum, %sqv
  %psq = getelementptr i64, ptr %q, i64 %sj
  store i64 %sq, ptr %psq
  store i64 0, ptr %psu
  %sdone = icmp eq i64 %sj, 0
  %sjn = sub i64 %sj, 1
  br i1 %sdone, label %sout, label %sloop
sout:
  store i64 %srn, ptr %un
  ret void
long:
  %n2 = sub i64 %n, 2
  %pv2 = getelementptr i64, ptr %vn, i64 %n2
  %v2 = load i64, ptr %pv2
  %j0 = sub i64 %m, %n
  br label %outer
outer:
  %j = phi i64 [ %j0, %long ], [ %jnext, %stored ]
  %jn = add i64 %j, %n
  %pu0 = getelementptr i64, ptr %un, i64 %jn
  %u0 = load i64, ptr %pu0
  %jn1 = sub i64 %jn, 1
  %pu1 = getelementptr i64, ptr %un, i64 %jn1
  %u1 = load i64, ptr %pu1
  %jn2 = sub i64 %jn, 2
  %pu2 = getelementptr i64, ptr %un, i64 %jn2
  %u2 = load i64, ptr %pu2
  %hi = shl i64 %u0, 32
  %num = or i64 %hi, %u1
  %qhat0 = udiv i64 %num, %v1
  %qv = mul i64 %qhat0, %v1
  %rhat0 = sub i64 %num, %qv
  br label %estimate
estimate:
  %qhat = phi i64 [ %qhat0, %outer ], [ %qdec, %adjust ]
  %rhat = phi i64 [ %rhat0, %outer ], [ %radj, %adjust ]
  %big = icmp uge i64 %qhat, 4294967296
  %lhs = mul i64 %qhat, %v2
  %rs = shl i64 %rhat, 32
  %rhs = or i64 %rs, %u2
  %over = icmp ugt i64 %lhs, %rhs
  %fix = or i1 %big, %over
  br i1 %fix, label %adjust, label %mulsub
adjust:
  %qdec = sub i64 %qhat, 1
  %radj = add i64 %rhat, %v1
  %again = icmp ult i64 %radj, 4294967296
  br i1 %again, label %estimate, label %mulsub
mulsub:
  %qh = phi i64 [ %qhat, %estimate ], [ %qdec, %adjust ]
  br label %ms
ms:
  %i = phi i64 [ 0, %mulsub ], [ %inext, %ms ]
  %k = phi i64 [ 0, %mulsub ], [ %knext, %ms ]
  %pvi = getelementptr i64, ptr %vn, i64 %i
  %vi = load i64, ptr %pvi
  %p = mul i64 %qh, %vi
  %ij = add i64 %i, %j
  %pui = getelementptr i64, ptr %un, i64 %ij
  %ui = load i64, ptr %pui
  %plo = and i64 %p, 4294967295
  %t1 = sub i64 %ui, %k
  %t = sub i64 %t1, %plo
  %tlo = and i64 %t, 4294967295
  store i64 %tlo, ptr %pui
  %phi32 = lshr i64 %p, 32
  %tsh = ashr i64 %t, 32
  %knext = sub i64 %phi32, %tsh
  %inext = add i64 %i, 1
  %more = icmp ult i64 %inext, %n
  br i1 %more, label %ms, label %mstail
mstail:
  %ttop = sub i64 %u0, %knext
  %ttoplo = and i64 %ttop, 4294967295
  store i64 %ttoplo, ptr %pu0
  %negative = icmp slt i64 %ttop, 0
  br i1 %negative, label %addback, label %stored
addback:
  %qm = sub i64 %qh, 1
  br label %ab
ab:
  %ai = phi i64 [ 0, %addback ], [ %ainext, %ab ]
  %c = phi i64 [ 0, %addback ], [ %cnext, %ab ]
  %apvi = getelementptr i64, ptr %vn, i64 %ai
  %avi = load i64, ptr %apvi
  %aij = add i64 %ai, %j
  %apui = getelementptr i64, ptr %un, i64 %aij
  %aui = load i64, ptr %apui
  %as1 = add i64 %aui, %avi
  %as = add i64 %as1, %c
  %aslo = and i64 %as, 4294967295
  store i64 %aslo, ptr %apui
  %cnext = lshr i64 %as, 32
  %ainext = add i64 %ai, 1
  %amore = icmp ult i64 %ainext, %n
  br i1 %amore, label %ab, label %abtail
abtail:
  %atop = add i64 %ttoplo, %cnext
  %atoplo = and i64 %atop, 4294967295
  store i64 %atoplo, ptr %pu0
  br label %stored
stored:
  %qf = phi i64 [ %qh, %mstail ], [ %qm, %abtail ]
  %pq = getelementptr i64, ptr %q, i64 %j
  store i64 %qf, ptr %pq
  %done = icmp eq i64 %j, 0
  %jnext = sub i64 %j, 1
  br i1 %done, label %exit, label %outer
exit:
  ret void
}}"""


def _digits_out(value: str, bits: int, count: int, array: str, tag: str) -> list[str]:
    """Store ``count`` 32-bit digits of the i``bits`` ``value`` into ``array``, lowest first."""
    lines = []
    for i in range(count):
        shifted = value if i == 0 else f"%{tag}s{i}"
        if i:
            lines.append(f"  %{tag}s{i} = lshr i{bits} {value}, {32 * i}")
        lines += [
            f"  %{tag}t{i} = trunc i{bits} {shifted} to i64",
            f"  %{tag}d{i} = and i64 %{tag}t{i}, 4294967295",
            f"  %{tag}p{i} = getelementptr i64, ptr {array}, i64 {i}",
            f"  store i64 %{tag}d{i}, ptr %{tag}p{i}",
        ]
    return lines


def _digits_in(array: str, count: int, bits: int, tag: str, below: str | None = None) -> list[str]:
    """``%{tag}`` = the i``bits`` value of ``count`` digits of ``array`` (only those below
    the i64 ``below``, if given)."""
    lines = []
    total = "0"
    for i in range(count):
        lines += [
            f"  %{tag}p{i} = getelementptr i64, ptr {array}, i64 {i}",
            f"  %{tag}l{i} = load i64, ptr %{tag}p{i}",
        ]
        digit = f"%{tag}l{i}"
        if below is not None:
            lines += [
                f"  %{tag}k{i} = icmp ult i64 {i}, {below}",
                f"  %{tag}m{i} = select i1 %{tag}k{i}, i64 %{tag}l{i}, i64 0",
            ]
            digit = f"%{tag}m{i}"
        lines += [
            f"  %{tag}z{i} = zext i64 {digit} to i{bits}",
            f"  %{tag}w{i} = shl i{bits} %{tag}z{i}, {32 * i}",
            f"  %{tag}a{i} = or i{bits} {total}, %{tag}w{i}",
        ]
        total = f"%{tag}a{i}"
    lines.append(f"  %{tag} = or i{bits} {total}, 0")
    return lines


def _normalise(dividend: str, bits: int, digits: int) -> list[str]:
    """Lines that normalise the nonzero i256 divisor ``%y`` into ``%vn`` (8 digits, ``%n``
    of them significant) and the i``bits`` ``dividend`` into ``%un`` (``digits + 1``
    digits, ``%m`` significant before the shift); ``%s`` is the shift."""
    wide = bits + 32
    return [
        "  %lzy = call i256 @llvm.ctlz.i256(i256 %y, i1 true)",
        "  %lzy64 = trunc i256 %lzy to i64",
        "  %s64 = and i64 %lzy64, 31",
        "  %nz = lshr i64 %lzy64, 5",
        "  %n = sub i64 8, %nz",
        "  %s = zext i64 %s64 to i256",
        "  %yn = shl i256 %y, %s",
        *_digits_out("%yn", 256, 8, "%vn", "v"),
        f"  %xw = zext i{bits} {dividend} to i{wide}",
        f"  %sw = zext i64 %s64 to i{wide}",
        f"  %xn = shl i{wide} %xw, %sw",
        *_digits_out("%xn", wide, digits + 1, "%un", "u"),
        f"  call {_KNUTH_SIGNATURE}",
        *_digits_in("%un", 8, 288, "rn", below="%n"),
        "  %s288 = zext i64 %s64 to i288",
        "  %rsh = lshr i288 %rn, %s288",
        "  %rem = trunc i288 %rsh to i256",
    ]


def _udivrem_generic() -> str:
    """``udivrem``'s path for ``x >= y >= 2^32``: at least two divisor digits."""
    return "\n".join(
        [
            "generic:",
            "  %lzx = call i256 @llvm.ctlz.i256(i256 %x, i1 true)",
            "  %lzx64 = trunc i256 %lzx to i64",
            "  %mz = lshr i64 %lzx64, 5",
            "  %m = sub i64 8, %mz",
            "  store [8 x i64] zeroinitializer, ptr %q",
            *_normalise("%x", 256, 8),
            *_digits_in("%q", 8, 256, "quo"),
            "  %pg0 = insertvalue {i256, i256} undef, i256 %quo, 0",
            "  %pg = insertvalue {i256, i256} %pg0, i256 %rem, 1",
            "  ret {i256, i256} %pg",
        ]
    )


# The remainder of a 512-bit ``w >= 2^256`` by a nonzero i256 ``y`` (ADDMOD and
# MULMOD's wide case): Knuth's algorithm on the dividend's 9 to 16 digits.
_UREM_WIDE = "\n".join(
    [
        f"define internal i256 @evmkiln.urem_wide(i512 %w, i256 %y) {_NOINLINE} {{",
        "entry:",
        "  %un = alloca [17 x i64], align 8",
        "  %vn = alloca [8 x i64], align 8",
        "  %q = alloca [16 x i64], align 8",
        "  %top512 = lshr i512 %w, 256",
        "  %top = trunc i512 %top512 to i256",
        "  %lzt = call i256 @llvm.ctlz.i256(i256 %top, i1 true)",
        "  %lzt64 = trunc i256 %lzt to i64",
        "  %mz = lshr i64 %lzt64, 5",
        "  %m = sub i64 16, %mz",
        *_normalise("%w", 512, 16),
        "  ret i256 %rem",
        "}",
    ]
)


# Quotient and remainder of ``x / y`` for ``y != 0``, the core of DIV, MOD,
# SDIV and SMOD.  LLVM legalises an i256 division into a shift-subtract loop
# over the operands' bits, hundreds of cycles even for small numbers; Solidity
# code mostly divides small values (fixed-point scaling, array arithmetic), so
# operands that fit 64 bits use one native division and divisors under 2^32
# use eight.  Wider divisors take Knuth's algorithm D (``knuth``): LLVM's own
# i256 division is a bit-by-bit loop, about 0.8 us for a 40-bit divisor.
_UDIVREM = f"""define internal {{i256, i256}} @evmkiln.udivrem(i256 %x, i256 %y) {_NOINLINE} {{
entry:
  %un = alloca [9 x i64], align 8
  %vn = alloca [8 x i64], align 8
  %q = alloca [8 x i64], align 8
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
{_udivrem_two_words()}
{_udivrem_limbs()}
{_udivrem_generic()}
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
    "knuth": _KNUTH,
    "urem_wide": _UREM_WIDE,
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
