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
MIN_SIGNED = word(1 << 255)

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


HELPERS: dict[str, str] = {
    "div": f"""define internal i256 @evmkiln.div(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %d = select i1 %z, i256 1, i256 %y
  %q = udiv i256 %x, %d
  %r = select i1 %z, i256 0, i256 %q
  ret i256 %r
}}""",
    "mod": f"""define internal i256 @evmkiln.mod(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %d = select i1 %z, i256 1, i256 %y
  %q = urem i256 %x, %d
  %r = select i1 %z, i256 0, i256 %q
  ret i256 %r
}}""",
    # MIN / -1 overflows in LLVM; the EVM answer is MIN, which is also MIN / 1.
    "sdiv": f"""define internal i256 @evmkiln.sdiv(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %xm = icmp eq i256 %x, {MIN_SIGNED}
  %ym = icmp eq i256 %y, -1
  %ov = and i1 %xm, %ym
  %bad = or i1 %z, %ov
  %d = select i1 %bad, i256 1, i256 %y
  %q = sdiv i256 %x, %d
  %r = select i1 %z, i256 0, i256 %q
  ret i256 %r
}}""",
    # LLVM's srem takes the dividend's sign, like the EVM; x srem -1 is 0 (= x srem 1).
    "smod": f"""define internal i256 @evmkiln.smod(i256 %x, i256 %y) {_NOINLINE} {{
  %z = icmp eq i256 %y, 0
  %m = icmp eq i256 %y, -1
  %bad = or i1 %z, %m
  %d = select i1 %bad, i256 1, i256 %y
  %q = srem i256 %x, %d
  %r = select i1 %z, i256 0, i256 %q
  ret i256 %r
}}""",
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
