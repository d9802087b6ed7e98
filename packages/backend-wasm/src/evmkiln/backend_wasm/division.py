"""The division family on limbs: div, sdiv, mod, smod, addmod, mulmod, exp.

Semantics are :mod:`evmkiln.codegen.ir.semantics`'s (a zero divisor or
modulus gives 0; ``sdiv``/``smod`` truncate toward zero, the remainder taking
the dividend's sign).

All divisions share one routine, ``udivrem(m)``: Knuth's algorithm D
(Hacker's Delight ``divmnu``) on 32-bit digits, so that every quotient
estimate is one ``i64.div_u`` of a two-digit numerator.  It works in the
``DIV_*`` areas of linear memory (:mod:`.layout`): the dividend's ``m``
digits at ``DIV_U`` (16 at most: ``mulmod``'s 512-bit product), the nonzero
divisor's eight at ``DIV_V``; it leaves the quotient at ``DIV_Q`` and the
remainder at ``DIV_U`` (zero above the divisor's length).  Leading zero
digits are skipped first, so small operands take few steps, and a one-digit
divisor takes the short-division path.  Wasm is little-endian, so a word's
four i64 limbs stored in order are exactly its eight 32-bit digits.

``div``/``mod`` with both operands below 2**64 use ``i64.div_u``/``rem_u``
directly.  ``exp`` is square-and-multiply over the exponent's bits with the
in-module ``mul``; ``addmod`` divides the 257-bit sum, ``mulmod`` the full
512-bit product (``mul_wide_u`` and ``add128``).
"""

from __future__ import annotations

from collections.abc import Callable

from evmkiln.backend_wasm.encoding import I32, I64, Func, FuncType, Instr
from evmkiln.backend_wasm.layout import DIV_Q, DIV_U, DIV_V

W2 = FuncType((I64,) * 8, (I64,) * 4)
W3 = FuncType((I64,) * 12, (I64,) * 4)
DIGIT = 1 << 32
Resolve = Callable[[str], int]
"""Routine name -> function index (adds the routine to the module on first use)."""


def _digit_addr(*index: Instr) -> list[Instr]:
    """Byte offset of a digit from an i32 index expression (the area is the memarg offset)."""
    return [*index, ("i32.const", 2), ("i32.shl",)]


def _load(area: int, *index: Instr) -> list[Instr]:
    return [*_digit_addr(*index), ("i64.load32_u", 2, area)]


def _get(i: int) -> Instr:
    return ("local.get", i)


def _sum(a: int, b: int, minus: int = 0) -> list[Instr]:
    """i32 ``local a + local b - minus``."""
    out: list[Instr] = [_get(a), _get(b), ("i32.add",)]
    if minus:
        out += [("i32.const", minus), ("i32.sub",)]
    return out


def udivrem() -> Func:
    """``udivrem(m: i32)``: the digits at DIV_U divided by the nonzero digits at DIV_V."""
    m, n, j, i = 0, 1, 2, 3
    s, vtop, vsec, qhat, rhat, k, t, p = 4, 5, 6, 7, 8, 9, 10, 11
    body: list[Instr] = [("i32.const", DIV_Q), ("i32.const", 0), ("i32.const", 64)]
    body += [("memory.fill",)]
    # n: digits of the divisor (it is nonzero).
    body += [("i32.const", 8), ("local.set", n), ("block", None), ("loop", None)]
    body += [*_digit_addr(_get(n), ("i32.const", 1), ("i32.sub",)), ("i32.load", 2, DIV_V)]
    body += [("br_if", 1), _get(n), ("i32.const", 1), ("i32.sub",), ("local.set", n)]
    body += [("br", 0), ("end",), ("end",)]
    # m: significant digits of the dividend, but not fewer than n.
    body += [("block", None), ("loop", None), _get(m), _get(n), ("i32.le_u",), ("br_if", 1)]
    body += [*_digit_addr(_get(m), ("i32.const", 1), ("i32.sub",)), ("i32.load", 2, DIV_U)]
    body += [("br_if", 1), _get(m), ("i32.const", 1), ("i32.sub",), ("local.set", m)]
    body += [("br", 0), ("end",), ("end",)]
    # A dividend shorter than the divisor is its own remainder.
    body += [_get(m), _get(n), ("i32.lt_u",), ("if", None), ("return",), ("end",)]

    # -- one-digit divisor: short division ---------------------------------
    body += [_get(n), ("i32.const", 1), ("i32.eq",), ("if", None)]
    body += [("i32.const", 0), ("i64.load32_u", 2, DIV_V), ("local.set", vtop)]
    body += [("i64.const", 0), ("local.set", rhat)]
    body += [_get(m), ("i32.const", 1), ("i32.sub",), ("local.set", j), ("loop", None)]
    body += [_get(rhat), ("i64.const", 32), ("i64.shl",), *_load(DIV_U, _get(j)), ("i64.or",)]
    body += [("local.set", t)]
    body += [*_digit_addr(_get(j)), _get(t), _get(vtop), ("i64.div_u",), ("i64.store32", 2, DIV_Q)]
    body += [_get(t), _get(vtop), ("i64.rem_u",), ("local.set", rhat)]
    body += [*_digit_addr(_get(j)), ("i64.const", 0), ("i64.store32", 2, DIV_U)]
    body += [_get(j), ("i32.const", 1), ("i32.sub",), ("local.tee", j)]
    body += [("i32.const", 0), ("i32.ge_s",), ("br_if", 0), ("end",)]
    body += [("i32.const", 0), _get(rhat), ("i64.store32", 2, DIV_U), ("return",), ("end",)]

    # -- algorithm D ---------------------------------------------------------
    body += [*_digit_addr(_get(n), ("i32.const", 1), ("i32.sub",)), ("i32.load", 2, DIV_V)]
    body += [("i32.clz",), ("i64.extend_i32_u",), ("local.set", s)]

    def normalise(area: int, top: int) -> list[Instr]:
        """digits[top..1] = (digits[i]:digits[i-1]) << s >> 32; digits[0] <<= s."""
        out: list[Instr] = [_get(top), ("i32.const", 1), ("i32.sub",), ("local.set", i)]
        out += [("loop", None), *_digit_addr(_get(i))]
        out += [*_load(area, _get(i)), ("i64.const", 32), ("i64.shl",)]
        out += [*_load(area, _get(i), ("i32.const", 1), ("i32.sub",)), ("i64.or",)]
        out += [_get(s), ("i64.shl",), ("i64.const", 32), ("i64.shr_u",)]
        out += [("i64.store32", 2, area)]
        out += [_get(i), ("i32.const", 1), ("i32.sub",), ("local.tee", i)]
        out += [("i32.const", 0), ("i32.gt_s",), ("br_if", 0), ("end",)]
        out += [("i32.const", 0), ("i32.const", 0), ("i64.load32_u", 2, area)]
        out += [_get(s), ("i64.shl",), ("i64.store32", 2, area)]
        return out

    body += normalise(DIV_V, n)
    # U[m] = U[m-1] >> (32 - s), then the rest in place (top down).
    body += [*_digit_addr(_get(m)), *_load(DIV_U, _get(m), ("i32.const", 1), ("i32.sub",))]
    body += [("i64.const", 32), _get(s), ("i64.sub",), ("i64.shr_u",), ("i64.store32", 2, DIV_U)]
    body += normalise(DIV_U, m)
    body += [*_load(DIV_V, _get(n), ("i32.const", 1), ("i32.sub",)), ("local.set", vtop)]
    body += [*_load(DIV_V, _get(n), ("i32.const", 2), ("i32.sub",)), ("local.set", vsec)]
    body += [_get(m), _get(n), ("i32.sub",), ("local.set", j)]
    body += [("loop", None)]  # over quotient digits j, high to low
    body += [*_load(DIV_U, *_sum(j, n)), ("i64.const", 32), ("i64.shl",)]
    body += [*_load(DIV_U, *_sum(j, n, 1)), ("i64.or",), ("local.tee", t)]
    body += [_get(vtop), ("i64.div_u",), ("local.set", qhat)]
    body += [_get(t), _get(vtop), ("i64.rem_u",), ("local.set", rhat)]
    # Correct the estimate (at most twice).
    body += [("block", None), ("loop", None), ("block", None)]
    body += [_get(qhat), ("i64.const", DIGIT), ("i64.ge_u",), ("br_if", 0)]
    body += [_get(qhat), _get(vsec), ("i64.mul",), _get(rhat), ("i64.const", 32), ("i64.shl",)]
    body += [*_load(DIV_U, *_sum(j, n, 2)), ("i64.or",), ("i64.gt_u",), ("br_if", 0)]
    body += [("br", 2), ("end",)]
    body += [_get(qhat), ("i64.const", 1), ("i64.sub",), ("local.set", qhat)]
    body += [_get(rhat), _get(vtop), ("i64.add",), ("local.tee", rhat)]
    body += [("i64.const", DIGIT), ("i64.lt_u",), ("br_if", 0), ("end",), ("end",)]
    # Multiply and subtract: U[j..j+n] -= qhat * V.
    body += [("i64.const", 0), ("local.set", k), ("i32.const", 0), ("local.set", i)]
    body += [("loop", None)]
    body += [_get(qhat), *_load(DIV_V, _get(i)), ("i64.mul",), ("local.set", p)]
    body += [*_load(DIV_U, *_sum(i, j)), _get(k), ("i64.sub",)]
    body += [_get(p), ("i64.const", DIGIT - 1), ("i64.and",), ("i64.sub",), ("local.set", t)]
    body += [*_digit_addr(*_sum(i, j)), _get(t), ("i64.store32", 2, DIV_U)]
    body += [_get(p), ("i64.const", 32), ("i64.shr_u",), _get(t), ("i64.const", 32)]
    body += [("i64.shr_s",), ("i64.sub",), ("local.set", k)]
    body += [_get(i), ("i32.const", 1), ("i32.add",), ("local.tee", i), _get(n), ("i32.lt_u",)]
    body += [("br_if", 0), ("end",)]
    body += [*_load(DIV_U, *_sum(j, n)), _get(k), ("i64.sub",), ("local.set", t)]
    body += [*_digit_addr(*_sum(j, n)), _get(t), ("i64.store32", 2, DIV_U)]
    body += [*_digit_addr(_get(j)), _get(qhat), ("i64.store32", 2, DIV_Q)]
    # Subtracted too much (rare): add the divisor back, qhat - 1.
    body += [_get(t), ("i64.const", 0), ("i64.lt_s",), ("if", None)]
    body += [*_digit_addr(_get(j)), _get(qhat), ("i64.const", 1), ("i64.sub",)]
    body += [("i64.store32", 2, DIV_Q)]
    body += [("i64.const", 0), ("local.set", k), ("i32.const", 0), ("local.set", i)]
    body += [("loop", None), *_digit_addr(*_sum(i, j))]
    body += [*_load(DIV_U, *_sum(i, j)), *_load(DIV_V, _get(i)), ("i64.add",), _get(k)]
    body += [("i64.add",), ("local.tee", t), ("i64.store32", 2, DIV_U)]
    body += [_get(t), ("i64.const", 32), ("i64.shr_u",), ("local.set", k)]
    body += [_get(i), ("i32.const", 1), ("i32.add",), ("local.tee", i), _get(n), ("i32.lt_u",)]
    body += [("br_if", 0), ("end",)]
    body += [*_digit_addr(*_sum(j, n)), *_load(DIV_U, *_sum(j, n)), _get(k), ("i64.add",)]
    body += [("i64.store32", 2, DIV_U), ("end",)]
    body += [_get(j), ("i32.const", 1), ("i32.sub",), ("local.tee", j)]
    body += [("i32.const", 0), ("i32.ge_s",), ("br_if", 0), ("end",)]
    # Unnormalise the remainder (U[n] is zero now).
    body += [("i32.const", 0), ("local.set", i), ("loop", None), *_digit_addr(_get(i))]
    body += [*_load(DIV_U, _get(i), ("i32.const", 1), ("i32.add",)), ("i64.const", 32)]
    body += [("i64.shl",), *_load(DIV_U, _get(i)), ("i64.or",), _get(s), ("i64.shr_u",)]
    body += [("i64.store32", 2, DIV_U)]
    body += [_get(i), ("i32.const", 1), ("i32.add",), ("local.tee", i), _get(n), ("i32.lt_u",)]
    body += [("br_if", 0), ("end",)]
    return Func("udivrem", FuncType((I32,), ()), [I32] * 3 + [I64] * 8, body)


def _store_word(area: int, first_local: int) -> list[Instr]:
    out: list[Instr] = []
    for i in range(4):
        out += [("i32.const", 0), _get(first_local + i), ("i64.store", 3, area + 8 * i)]
    return out


def _load_word(area: int) -> list[Instr]:
    return [ins for i in range(4) for ins in (("i32.const", 0), ("i64.load", 3, area + 8 * i))]


def _is_zero(first: int) -> list[Instr]:
    out: list[Instr] = [_get(first), _get(first + 1), ("i64.or",), _get(first + 2), ("i64.or",)]
    return [*out, _get(first + 3), ("i64.or",), ("i64.eqz",)]


_ZERO: list[Instr] = [("i64.const", 0)] * 4


def unsigned(remainder: bool, resolve: Resolve) -> Func:
    """``div`` (quotient) or ``mod`` (remainder)."""
    body: list[Instr] = [*_is_zero(4), ("if", None), *_ZERO, ("return",), ("end",)]
    # Both below 2**64: one machine division.
    body += [_get(1), _get(2), ("i64.or",), _get(3), ("i64.or",), _get(5), ("i64.or",)]
    body += [_get(6), ("i64.or",), _get(7), ("i64.or",), ("i64.eqz",), ("if", None)]
    body += [_get(0), _get(4), ("i64.rem_u" if remainder else "i64.div_u",)]
    body += [("i64.const", 0)] * 3 + [("return",), ("end",)]
    body += [*_store_word(DIV_U, 0), *_store_word(DIV_V, 4)]
    body += [("i32.const", 8), ("call", resolve("udivrem"))]
    body += _load_word(DIV_U if remainder else DIV_Q)
    return Func("w_mod" if remainder else "w_div", W2, [], body)


def _negate_if(flag: Instr, first: int, sub: int) -> list[Instr]:
    """If ``flag``: the word at locals ``first..first+3`` becomes ``0 - word``."""
    out: list[Instr] = [flag, ("if", None), *_ZERO]
    out += [_get(first + i) for i in range(4)]
    out += [("call", sub)] + [("local.set", first + i) for i in (3, 2, 1, 0)] + [("end",)]
    return out


def _fits_i64(first: int) -> list[Instr]:
    """Push whether the word at locals ``first..first+3`` is a sign-extended i64."""
    sign: list[Instr] = [_get(first), ("i64.const", 63), ("i64.shr_s",)]
    out: list[Instr] = [_get(first + 1), *sign, ("i64.xor",)]
    out += [_get(first + 2), *sign, ("i64.xor",), ("i64.or",)]
    out += [_get(first + 3), *sign, ("i64.xor",), ("i64.or",), ("i64.eqz",)]
    return out


def signed(remainder: bool, resolve: Resolve) -> Func:
    """``sdiv``/``smod`` on magnitudes, then the sign (of the quotient / of the dividend).

    Operands that are both sign-extended 64-bit values, with a divisor
    neither 0 nor -1 (whose results, and ``MIN / -1``, are the general
    path's), take one ``i64.div_s``/``rem_s``: most signed divisions in
    compiled Solidity are fixed-point arithmetic on small values.
    """
    sa, sb, small = 8, 9, 10
    sub = resolve("sub")
    body: list[Instr] = [*_fits_i64(0), *_fits_i64(4), ("i32.and",)]
    body += [_get(4), ("i64.const", 0), ("i64.ne",), ("i32.and",)]
    body += [_get(4), ("i64.const", -1), ("i64.ne",), ("i32.and",), ("if", None)]
    body += [_get(0), _get(4), ("i64.rem_s" if remainder else "i64.div_s",), ("local.set", small)]
    body += [_get(small)] + [_get(small), ("i64.const", 63), ("i64.shr_s",)] * 3
    body += [("return",), ("end",)]
    body += [_get(3), ("i64.const", 0), ("i64.lt_s",), ("local.set", sa)]
    body += [_get(7), ("i64.const", 0), ("i64.lt_s",), ("local.set", sb)]
    body += _negate_if(_get(sa), 0, sub)
    body += _negate_if(_get(sb), 4, sub)
    body += [_get(i) for i in range(8)] + [("call", resolve("mod" if remainder else "div"))]
    body += [("local.set", i) for i in (3, 2, 1, 0)]
    if remainder:
        body += _negate_if(_get(sa), 0, sub)
    else:
        body += [_get(sa), _get(sb), ("i32.xor",), ("local.set", sa), *_negate_if(_get(sa), 0, sub)]
    body += [_get(i) for i in range(4)]
    return Func("w_smod" if remainder else "w_sdiv", W2, [I32, I32, I64], body)


def addmod(resolve: Resolve) -> Func:
    """``(a + b) % n``: the 257-bit sum divided as ten digits."""
    carry, lo, hi = 12, 13, 14  # locals
    body: list[Instr] = [*_is_zero(8), ("if", None), *_ZERO, ("return",), ("end",)]
    body += [("i64.const", 0), ("local.set", carry)]
    for i in range(4):
        body += [_get(i), ("i64.const", 0), _get(4 + i), ("i64.const", 0), ("i64.add128",)]
        body += [_get(carry), ("i64.const", 0), ("i64.add128",), ("local.set", hi)]
        body += [("local.set", lo), ("i32.const", 0), _get(lo), ("i64.store", 3, DIV_U + 8 * i)]
        body += [_get(hi), ("local.set", carry)]
    body += [("i32.const", 0), _get(carry), ("i64.store", 3, DIV_U + 32)]
    body += _store_word(DIV_V, 8)
    body += [("i32.const", 10), ("call", resolve("udivrem")), *_load_word(DIV_U)]
    return Func("w_addmod", W3, [I64] * 3, body)


def mulmod(resolve: Resolve) -> Func:
    """``(a * b) % n``: the full 512-bit product divided as sixteen digits."""
    r, carry = 12, 20
    body: list[Instr] = [*_is_zero(8), ("if", None), *_ZERO, ("return",), ("end",)]
    for i in range(4):
        body += [("i64.const", 0), ("local.set", carry)]
        for j in range(4):
            body += [_get(i), _get(4 + j), ("i64.mul_wide_u",)]
            body += [_get(r + i + j), ("i64.const", 0), ("i64.add128",)]
            body += [_get(carry), ("i64.const", 0), ("i64.add128",)]
            body += [("local.set", carry), ("local.set", r + i + j)]
        body += [_get(carry), ("local.set", r + i + 4)]
    for i in range(8):
        body += [("i32.const", 0), _get(r + i), ("i64.store", 3, DIV_U + 8 * i)]
    body += _store_word(DIV_V, 8)
    body += [("i32.const", 16), ("call", resolve("udivrem")), *_load_word(DIV_U)]
    return Func("w_mulmod", W3, [I64] * 9, body)


def exp(resolve: Resolve) -> Func:
    """``a ** b mod 2**256``: square-and-multiply from the exponent's low bit."""
    mul = resolve("mul")
    r = 8
    body: list[Instr] = [("i64.const", 1), ("local.set", r)]
    body += [("block", None), ("loop", None), *_is_zero(4), ("br_if", 1)]
    body += [_get(4), ("i64.const", 1), ("i64.and",), ("i64.eqz",), ("i32.eqz",), ("if", None)]
    body += [*[_get(r + i) for i in range(4)], *[_get(i) for i in range(4)], ("call", mul)]
    body += [("local.set", r + i) for i in (3, 2, 1, 0)] + [("end",)]
    # e >>= 1
    for i in range(4):
        body += [_get(4 + i), ("i64.const", 1), ("i64.shr_u",)]
        if i < 3:
            body += [_get(5 + i), ("i64.const", 63), ("i64.shl",), ("i64.or",)]
        body += [("local.set", 4 + i)]
    body += [*_is_zero(4), ("br_if", 1)]
    body += [*[_get(i) for i in range(4)], *[_get(i) for i in range(4)], ("call", mul)]
    body += [("local.set", i) for i in (3, 2, 1, 0)]
    body += [("br", 0), ("end",), ("end",)]
    body += [_get(r + i) for i in range(4)]
    return Func("w_exp", W2, [I64] * 4, body)


ROUTINES: dict[str, Callable[[Resolve], Func]] = {
    "udivrem": lambda _: udivrem(),
    "div": lambda resolve: unsigned(False, resolve),
    "mod": lambda resolve: unsigned(True, resolve),
    "sdiv": lambda resolve: signed(False, resolve),
    "smod": lambda resolve: signed(True, resolve),
    "addmod": addmod,
    "mulmod": mulmod,
    "exp": exp,
}
