"""EVM word operations as LLVM IR, matching :mod:`evmkiln.codegen.ir.semantics`.

LLVM leaves several corner cases undefined that the EVM defines: division by
zero, ``INT_MIN / -1``, shifts by the width or more.  Each emitter below makes
the operand safe *before* the LLVM instruction (a divisor of 1, a masked shift
amount) and then selects the EVM's answer, so no poison or UB is ever created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir

from evmkiln.backend_llvm.types import I1, I64, I256, I512, const

Builder = Any
Emit2 = Callable[[Builder, Any, Any], Any]

ZERO = const(I256, 0)
ONE = const(I256, 1)
ALL_ONES = const(I256, -1)
MIN_SIGNED = const(I256, 1 << 255)
C256 = const(I256, 256)
C255 = const(I256, 255)


def _bool(b: Builder, cond: Any) -> Any:
    return b.zext(cond, I256)


def _div(b: Builder, x: Any, y: Any) -> Any:
    is_zero = b.icmp_unsigned("==", y, ZERO)
    q = b.udiv(x, b.select(is_zero, ONE, y))
    return b.select(is_zero, ZERO, q)


def _mod(b: Builder, x: Any, y: Any) -> Any:
    is_zero = b.icmp_unsigned("==", y, ZERO)
    r = b.urem(x, b.select(is_zero, ONE, y))
    return b.select(is_zero, ZERO, r)


def _sdiv(b: Builder, x: Any, y: Any) -> Any:
    # MIN / -1 overflows in LLVM; the EVM answer is MIN, which is also MIN / 1.
    is_zero = b.icmp_unsigned("==", y, ZERO)
    overflow = b.and_(b.icmp_unsigned("==", x, MIN_SIGNED), b.icmp_unsigned("==", y, ALL_ONES))
    q = b.sdiv(x, b.select(b.or_(is_zero, overflow), ONE, y))
    return b.select(is_zero, ZERO, q)


def _smod(b: Builder, x: Any, y: Any) -> Any:
    # LLVM's srem takes the dividend's sign, like the EVM; x srem -1 is 0 (= x srem 1).
    unsafe = b.or_(b.icmp_unsigned("==", y, ZERO), b.icmp_unsigned("==", y, ALL_ONES))
    r = b.srem(x, b.select(unsafe, ONE, y))
    return b.select(b.icmp_unsigned("==", y, ZERO), ZERO, r)


def _signextend(b: Builder, k: Any, x: Any) -> Any:
    small = b.icmp_unsigned("<", k, const(I256, 31))
    safe_k = b.select(small, k, ZERO)
    shift = b.sub(const(I256, 248), b.shl(safe_k, const(I256, 3)))
    extended = b.ashr(b.shl(x, shift), shift)
    return b.select(small, extended, x)


def _byte(b: Builder, i: Any, x: Any) -> Any:
    inside = b.icmp_unsigned("<", i, const(I256, 32))
    safe_i = b.select(inside, i, ZERO)
    shift = b.sub(const(I256, 248), b.shl(safe_i, const(I256, 3)))
    v = b.and_(b.lshr(x, shift), const(I256, 0xFF))
    return b.select(inside, v, ZERO)


def _shift_ok(b: Builder, s: Any) -> tuple[Any, Any]:
    return b.icmp_unsigned("<", s, C256), b.and_(s, C255)


def _shl(b: Builder, s: Any, x: Any) -> Any:
    ok, amount = _shift_ok(b, s)
    return b.select(ok, b.shl(x, amount), ZERO)


def _shr(b: Builder, s: Any, x: Any) -> Any:
    ok, amount = _shift_ok(b, s)
    return b.select(ok, b.lshr(x, amount), ZERO)


def _sar(b: Builder, s: Any, x: Any) -> Any:
    ok, amount = _shift_ok(b, s)
    return b.select(ok, b.ashr(x, amount), b.ashr(x, C255))


def _exp(b: Builder, x: Any, y: Any) -> Any:
    return b.call(exp_helper(b.module), [x, y])


def _outlined(name: str, body: Callable[..., Any], arity: int) -> Callable[..., Any]:
    """Emit ``body`` once per module as a ``noinline`` function and call it.

    Wide division legalises into a shift-subtract loop of a few hundred machine
    instructions; inlining one per use site made large contracts take seconds
    (and gigabytes) to compile, for no gain: the loop dominates the call.
    """
    symbol = f"evmkiln.{name}"

    def emit(b: Builder, *args: Any) -> Any:
        fn = b.module.globals.get(symbol)
        if fn is None:
            fn = ir.Function(b.module, ir.FunctionType(I256, [I256] * arity), symbol)
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            inner = ir.IRBuilder(fn.append_basic_block("entry"))
            inner.ret(body(inner, *fn.args))
        return b.call(fn, list(args))

    return emit


BINARY: dict[str, Emit2] = {
    "add": lambda b, x, y: b.add(x, y),
    "sub": lambda b, x, y: b.sub(x, y),
    "mul": lambda b, x, y: b.mul(x, y),
    "div": _outlined("div", _div, 2),
    "sdiv": _outlined("sdiv", _sdiv, 2),
    "mod": _outlined("mod", _mod, 2),
    "smod": _outlined("smod", _smod, 2),
    "exp": _exp,
    "signextend": _signextend,
    "lt": lambda b, x, y: _bool(b, b.icmp_unsigned("<", x, y)),
    "gt": lambda b, x, y: _bool(b, b.icmp_unsigned(">", x, y)),
    "slt": lambda b, x, y: _bool(b, b.icmp_signed("<", x, y)),
    "sgt": lambda b, x, y: _bool(b, b.icmp_signed(">", x, y)),
    "eq": lambda b, x, y: _bool(b, b.icmp_unsigned("==", x, y)),
    "and": lambda b, x, y: b.and_(x, y),
    "or": lambda b, x, y: b.or_(x, y),
    "xor": lambda b, x, y: b.xor(x, y),
    "byte": _byte,
    "shl": _shl,
    "shr": _shr,
    "sar": _sar,
}


def _addmod(b: Builder, x: Any, y: Any, n: Any) -> Any:
    return _wide_mod(b, b.add(b.zext(x, I512), b.zext(y, I512)), n)


def _mulmod(b: Builder, x: Any, y: Any, n: Any) -> Any:
    return _wide_mod(b, b.mul(b.zext(x, I512), b.zext(y, I512)), n)


def _wide_mod(b: Builder, wide: Any, n: Any) -> Any:
    """``wide % n`` on a 512-bit intermediate, 0 when ``n`` is 0."""
    is_zero = b.icmp_unsigned("==", n, ZERO)
    r = b.urem(wide, b.zext(b.select(is_zero, ONE, n), I512))
    return b.select(is_zero, ZERO, b.trunc(r, I256))


TERNARY: dict[str, Callable[[Builder, Any, Any, Any], Any]] = {
    "addmod": _outlined("addmod", _addmod, 3),
    "mulmod": _outlined("mulmod", _mulmod, 3),
}

UNARY: dict[str, Callable[[Builder, Any], Any]] = {
    "iszero": lambda b, x: _bool(b, b.icmp_unsigned("==", x, ZERO)),
    "not": lambda b, x: b.xor(x, ALL_ONES),
}


def bytelen(b: Builder, x: Any) -> Any:
    """Significant bytes of ``x`` as i64: ``(256 - clz(x) + 7) // 8``."""
    bits = b.sub(C256, b.ctlz(x, const(I1, 0)))
    return b.trunc(b.lshr(b.add(bits, const(I256, 7)), const(I256, 3)), I64)


EXP_HELPER = "evmkiln.exp"


def exp_helper(module: Any) -> Any:
    """The module's square-and-multiply ``exp(base, exponent) mod 2**256`` (at most 256 rounds)."""
    existing = module.globals.get(EXP_HELPER)
    if existing is not None:
        return existing
    fn = ir.Function(module, ir.FunctionType(I256, [I256, I256]), EXP_HELPER)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    base, exponent = fn.args
    entry, loop, body, done = (fn.append_basic_block(n) for n in ("entry", "loop", "body", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    acc = b.phi(I256, "acc")
    sq = b.phi(I256, "sq")
    e = b.phi(I256, "e")
    b.cbranch(b.icmp_unsigned("==", e, ZERO), done, body)
    b.position_at_end(body)
    odd = b.trunc(e, I1)
    acc2 = b.select(odd, b.mul(acc, sq), acc)
    sq2 = b.mul(sq, sq)
    e2 = b.lshr(e, ONE)
    b.branch(loop)
    acc.add_incoming(ONE, entry)
    acc.add_incoming(acc2, body)
    sq.add_incoming(base, entry)
    sq.add_incoming(sq2, body)
    e.add_incoming(exponent, entry)
    e.add_incoming(e2, body)
    b.position_at_end(done)
    b.ret(acc)
    return fn
