"""DIV, MOD, SDIV and SMOD of small operands, divided inline before the outlined helper.

Most divisions in compiled Solidity are of small values: fixed-point
scaling, array arithmetic.  snailtracer's 352,000 SDIVs per transaction:
56% have both operands within 64 bits, 38% a dividend of 65-128 bits and a
divisor within 64.  The outlined helpers (:mod:`.wordops`) pass and return
their 256-bit words through memory, and the signed ones negate full words
around the unsigned core; for these sizes that costs more than the
division.  So the translator branches on the operands' sizes first:

* both within 64 bits (sign-extended for SDIV/SMOD): one native division;
* on x86-64, a dividend within 128 bits and a divisor within 64: the high
  word divided natively, then the remainder and the low word with one
  128-by-64 ``div`` (inline assembly; the remainder is below the divisor,
  so it cannot trap); the signed forms divide the magnitudes and put the
  sign back in 128 bits;
* anything else: the helper.

A divisor of 0 (and, for the signed forms, -1, whose ``MIN / -1`` the EVM
defines) always takes the helper, so no inline division can trap.
"""

from __future__ import annotations

from typing import Protocol

from evmkiln.backend_llvm import wordops

DIVISIONS = frozenset({"div", "mod", "sdiv", "smod"})
_NARROW = {"div": "udiv", "mod": "urem", "sdiv": "sdiv", "smod": "srem"}


class BlockEmitter(wordops.Emitter, Protocol):
    """What the inline paths need of the translator: instructions and new blocks."""

    block: str

    def emit(self, text: str) -> None: ...

    def new_label(self, hint: str) -> str: ...

    def start(self, label: str) -> None: ...


def _fits(e: BlockEmitter, value: str, narrow: str, bits: int, signed: bool) -> str:
    """Whether the word ``value`` (whose low ``bits`` are ``narrow``) fits ``bits`` bits."""
    if signed:
        widened = e.op(f"sext i{bits} {narrow} to i256")
        return e.op(f"icmp eq i256 {widened}, {value}")
    return e.op(f"icmp ult i256 {value}, {1 << bits}")


def emit_division(e: BlockEmitter, op: str, x: str, y: str) -> str:
    """The result of ``op`` (one of :data:`DIVISIONS`) on words ``x`` and ``y``."""
    signed = op in ("sdiv", "smod")
    x64 = e.op(f"trunc i256 {x} to i64")
    y64 = e.op(f"trunc i256 {y} to i64")
    safe = e.op(f"icmp ne i64 {y64}, 0")
    if signed:
        safe = e.op(f"and i1 {safe}, {e.op(f'icmp ne i64 {y64}, -1')}")
    y_fits = e.op(f"and i1 {_fits(e, y, y64, 64, signed)}, {safe}")
    both = e.op(f"and i1 {_fits(e, x, x64, 64, signed)}, {y_fits}")
    labels = [e.new_label(hint) for hint in ("div_w64", "div_try128", "div_wide", "div_done")]
    on_w64, on_try, on_wide, done = labels
    results: list[tuple[str, str]] = []
    e.emit(f"br i1 {both}, label %{on_w64}, label %{on_try if wordops.X86_64 else on_wide}")
    e.start(on_w64)
    narrow = e.op(f"{_NARROW[op]} i64 {x64}, {y64}")
    results.append((e.op(f"{'sext' if signed else 'zext'} i64 {narrow} to i256"), e.block))
    e.emit(f"br label %{done}")
    if wordops.X86_64:
        e.start(on_try)
        x128 = e.op(f"trunc i256 {x} to i128")
        two_words = e.op(f"and i1 {_fits(e, x, x128, 128, signed)}, {y_fits}")
        on_w128 = e.new_label("div_w128")
        e.emit(f"br i1 {two_words}, label %{on_w128}, label %{on_wide}")
        e.start(on_w128)
        results.append((_two_words(e, op, x128, y64), e.block))
        e.emit(f"br label %{done}")
    e.start(on_wide)
    results.append((wordops.BINARY[op](e, x, y), e.block))
    e.emit(f"br label %{done}")
    e.start(done)
    pairs = ", ".join(f"[ {value}, %{block} ]" for value, block in results)
    return e.op(f"phi i256 {pairs}")


def _two_words(e: BlockEmitter, op: str, x128: str, y64: str) -> str:
    """``x128`` (within 128 bits) by ``y64`` (nonzero; for the signed forms not -1)."""
    signed = op in ("sdiv", "smod")
    x_negative = y_negative = ""
    if signed:  # magnitudes: |x| <= 2^127 and |y| <= 2^63 fit unsigned
        x_negative = e.op(f"icmp slt i128 {x128}, 0")
        x128 = e.op(f"select i1 {x_negative}, i128 {e.op(f'sub i128 0, {x128}')}, i128 {x128}")
        y_negative = e.op(f"icmp slt i64 {y64}, 0")
        y64 = e.op(f"select i1 {y_negative}, i64 {e.op(f'sub i64 0, {y64}')}, i64 {y64}")
    quotient, remainder = wordops.divide_two_words(e, x128, y64)
    if op in ("mod", "smod"):
        if not signed:
            return e.op(f"zext i64 {remainder} to i256")
        negated = e.op(f"sub i64 0, {remainder}")  # the dividend's sign; |r| < 2^63
        signed_remainder = e.op(f"select i1 {x_negative}, i64 {negated}, i64 {remainder}")
        return e.op(f"sext i64 {signed_remainder} to i256")
    if not signed:
        return e.op(f"zext i128 {quotient} to i256")
    # |q| <= 2^127, and 2^127 only for MIN / 1 (negative): the signed value fits i128.
    negative = e.op(f"xor i1 {x_negative}, {y_negative}")
    negated = e.op(f"sub i128 0, {quotient}")
    return e.op(
        f"sext i128 {e.op(f'select i1 {negative}, i128 {negated}, i128 {quotient}')} to i256"
    )
