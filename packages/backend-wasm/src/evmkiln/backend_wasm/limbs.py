"""Word routines on four 64-bit limbs, generated as wasm functions.

An EVM word is four i64 values, least significant first (``a0..a3``).
Routines take their operands as parameters and return the limbs as multiple
results, so a call site is "push 8 locals, call, pop 4".  The cheap
operations (bitwise, ``eq``, ``iszero``) are emitted inline by the
translator instead; division, modulo, ``exp`` and the modular operations are
in :mod:`.division`.

Shifts, ``byte`` and ``signextend`` go through the 96-byte scratch area in
linear memory (zero padding around the operand) so that a shift by a dynamic
number of limbs is an address computation rather than a cascade of selects.
"""

from __future__ import annotations

from collections.abc import Callable

from evmkiln.backend_wasm import division
from evmkiln.backend_wasm.division import Resolve
from evmkiln.backend_wasm.encoding import I32, I64, Func, FuncType, Instr
from evmkiln.backend_wasm.layout import (
    CTRL_GROW,
    CTRL_MSIZE,
    HOST_GROW,
    MAX_PAGES,
    PAGE,
    SCRATCH,
)

MEMORY_LIMIT = 1 << 32
HOST_FUNC = 0
"""Function index of the ``host`` import (the module's only import)."""
W2 = FuncType((I64,) * 8, (I64,) * 4)
MID = SCRATCH + 32
"""Address of the operand in the scratch area."""


def _a(i: int) -> Instr:
    return ("local.get", i)


def _b(i: int) -> Instr:
    return ("local.get", 4 + i)


def _ret_zero() -> list[Instr]:
    return [("i64.const", 0)] * 4 + [("return",)]


def _store_limbs(addr: int, first_local: int) -> list[Instr]:
    out: list[Instr] = []
    for i in range(4):
        out += [("i32.const", 0), ("local.get", first_local + i), ("i64.store", 3, addr + 8 * i)]
    return out


def _high_nonzero(first: int) -> list[Instr]:
    """i32: limbs 1..3 of the word starting at local ``first`` are not all zero."""
    return [
        ("local.get", first + 1),
        ("local.get", first + 2),
        ("i64.or",),
        ("local.get", first + 3),
        ("i64.or",),
        ("i64.const", 0),
        ("i64.ne",),
    ]


def add() -> Func:
    # locals: 8 carry, 9 sum
    body: list[Instr] = []
    for i in range(4):
        body += [_a(i), _b(i), ("i64.add",), ("local.set", 9)]
        if i < 3:
            # carry out = (s < a) | (s + c < s)
            body += [("local.get", 9), _a(i), ("i64.lt_u",)]
        body += [("local.get", 9), ("local.get", 8), ("i64.add",)]
        if i < 3:
            body += [
                ("local.tee", 10 + i),
                ("local.get", 9),
                ("i64.lt_u",),
                ("i32.or",),
                ("i64.extend_i32_u",),
                ("local.set", 8),
            ]
        else:
            body += [("local.set", 13)]
    body += [("local.get", 10), ("local.get", 11), ("local.get", 12), ("local.get", 13)]
    return Func("w_add", W2, [I64] * 6, body)


def sub() -> Func:
    # locals: 8 borrow, 9 difference
    body: list[Instr] = []
    for i in range(4):
        body += [_a(i), _b(i), ("i64.sub",), ("local.set", 9)]
        if i < 3:
            body += [_a(i), _b(i), ("i64.lt_u",)]
        body += [("local.get", 9), ("local.get", 8), ("i64.sub",)]
        if i < 3:
            body += [
                ("local.set", 10 + i),
                ("local.get", 9),
                ("local.get", 8),
                ("i64.lt_u",),
                ("i32.or",),
                ("i64.extend_i32_u",),
                ("local.set", 8),
            ]
        else:
            body += [("local.set", 13)]
    body += [("local.get", 10), ("local.get", 11), ("local.get", 12), ("local.get", 13)]
    return Func("w_sub", W2, [I64] * 6, body)


def mul() -> Func:
    """Schoolbook product truncated to 256 bits, on ``mul_wide_u`` and ``add128``."""
    # locals: 8..11 result limbs, 12 carry, 13 lo, 14 hi
    r, carry, lo, hi = 8, 12, 13, 14
    body: list[Instr] = []
    for i in range(4):
        body += [("i64.const", 0), ("local.set", carry)]
        for j in range(4 - i):
            k = i + j
            body += [_a(i), _b(j), ("i64.mul_wide_u",), ("local.set", hi), ("local.set", lo)]
            # (hi:lo) += r[k]; (hi:lo) += carry
            body += [
                ("local.get", lo),
                ("local.get", hi),
                ("local.get", r + k),
                ("i64.const", 0),
                ("i64.add128",),
                ("local.set", hi),
                ("local.set", lo),
                ("local.get", lo),
                ("local.get", hi),
                ("local.get", carry),
                ("i64.const", 0),
                ("i64.add128",),
                ("local.set", carry),
                ("local.set", r + k),
            ]
    body += [("local.get", r + i) for i in range(4)]
    return Func("w_mul", W2, [I64] * 7, body)


def compare(signed: bool) -> Func:
    """``a < b`` (unsigned, or signed on the top limb) as a word 0/1."""
    body: list[Instr] = [_a(0), _b(0), ("i64.lt_u",)]
    for i in (1, 2, 3):
        lt = "i64.lt_s" if (signed and i == 3) else "i64.lt_u"
        body += [_a(i), _b(i), ("i64.eq",), ("i32.and",), _a(i), _b(i), (lt,), ("i32.or",)]
    body += [("i64.extend_i32_u",), ("i64.const", 0), ("i64.const", 0), ("i64.const", 0)]
    return Func("w_slt" if signed else "w_lt", W2, [], body)


def _shift_prologue(fill_sign: bool) -> list[Instr]:
    """Out-of-range shift handling, then the operand (and its padding) into scratch."""
    body: list[Instr] = []
    if fill_sign:
        body += [_b(3), ("i64.const", 63), ("i64.shr_s",), ("local.set", 9)]
    big = [*_high_nonzero(0), _a(0), ("i64.const", 255), ("i64.gt_u",), ("i32.or",)]
    body += [*big, ("if", None)]
    if fill_sign:
        body += [("local.get", 9)] * 4 + [("return",)]
    else:
        body += _ret_zero()
    body += [("end",)]
    body += _store_limbs(MID, 4)
    for i in range(4):
        body += [("i32.const", 0)]
        body += [("local.get", 9)] if fill_sign else [("i64.const", 0)]
        body += [("i64.store", 3, MID + 32 + 8 * i)]
    return body


def shl() -> Func:
    # locals: 8 address (i32), 9 bit shift r
    body = _shift_prologue(False)
    body += [_a(0), ("i64.const", 63), ("i64.and",), ("local.set", 9)]
    body += [
        ("i32.const", MID - 8),
        _a(0),
        ("i32.wrap_i64",),
        ("i32.const", 6),
        ("i32.shr_u",),
        ("i32.const", 3),
        ("i32.shl",),
        ("i32.sub",),
        ("local.set", 8),
    ]
    for i in range(4):
        body += [
            ("local.get", 8),
            ("i64.load", 3, 8 + 8 * i),
            ("local.get", 9),
            ("i64.shl",),
            ("local.get", 8),
            ("i64.load", 3, 8 * i),
            ("i64.const", 1),
            ("i64.shr_u",),
            ("i64.const", 63),
            ("local.get", 9),
            ("i64.sub",),
            ("i64.shr_u",),
            ("i64.or",),
        ]
    return Func("w_shl", W2, [I32, I64], body)


def shr(arith: bool) -> Func:
    # locals: 8 address (i32), 9 sign limb (sar), 10 bit shift r.  Zero padding
    # for shr is rewritten each time since sar leaves sign limbs there.
    body = _shift_prologue(arith)
    body += [_a(0), ("i64.const", 63), ("i64.and",), ("local.set", 10)]
    body += [
        ("i32.const", MID),
        _a(0),
        ("i32.wrap_i64",),
        ("i32.const", 6),
        ("i32.shr_u",),
        ("i32.const", 3),
        ("i32.shl",),
        ("i32.add",),
        ("local.set", 8),
    ]
    for i in range(4):
        body += [
            ("local.get", 8),
            ("i64.load", 3, 8 * i),
            ("local.get", 10),
            ("i64.shr_u",),
            ("local.get", 8),
            ("i64.load", 3, 8 + 8 * i),
            ("i64.const", 1),
            ("i64.shl",),
            ("i64.const", 63),
            ("local.get", 10),
            ("i64.sub",),
            ("i64.shl",),
            ("i64.or",),
        ]
    return Func("w_sar" if arith else "w_shr", W2, [I32, I64, I64], body)


def byte() -> Func:
    body: list[Instr] = [*_high_nonzero(0), _a(0), ("i64.const", 31), ("i64.gt_u",), ("i32.or",)]
    body += [("if", None), *_ret_zero(), ("end",)]
    body += _store_limbs(MID, 4)
    body += [
        ("i32.const", MID + 31),
        _a(0),
        ("i32.wrap_i64",),
        ("i32.sub",),
        ("i64.load8_u", 0, 0),
        ("i64.const", 0),
        ("i64.const", 0),
        ("i64.const", 0),
    ]
    return Func("w_byte", W2, [], body)


def signextend() -> Func:
    # locals: 8 sign byte address (i32)
    body: list[Instr] = [*_high_nonzero(0), _a(0), ("i64.const", 30), ("i64.gt_u",), ("i32.or",)]
    body += [("if", None), _b(0), _b(1), _b(2), _b(3), ("return",), ("end",)]
    body += _store_limbs(MID, 4)
    body += [("i32.const", MID), _a(0), ("i32.wrap_i64",), ("i32.add",), ("local.set", 8)]
    # fill bytes above the sign byte with its sign: memory.fill(addr+1, sign, 31-b)
    body += [
        ("local.get", 8),
        ("i32.const", 1),
        ("i32.add",),
        ("local.get", 8),
        ("i32.load8_s", 0, 0),
        ("i32.const", 8),
        ("i32.shr_u",),
        ("i32.const", MID + 31),
        ("local.get", 8),
        ("i32.sub",),
        ("memory.fill",),
    ]
    body += [(("i32.const", 0)), ("i64.load", 3, MID)]
    body += [("i32.const", 0), ("i64.load", 3, MID + 8)]
    body += [("i32.const", 0), ("i64.load", 3, MID + 16)]
    body += [("i32.const", 0), ("i64.load", 3, MID + 24)]
    return Func("w_signextend", W2, [I32], body)


def _bit_length() -> list[Instr]:
    """Pushes the bit length of the word in params 0-3 (nested if/else on the top limbs)."""
    body: list[Instr] = []
    for i in (3, 2, 1):
        body += [_a(i), ("i64.const", 0), ("i64.ne",), ("if", I64)]
        body += [("i64.const", 64 * (i + 1)), _a(i), ("i64.clz",), ("i64.sub",), ("else",)]
    body += [("i64.const", 64), _a(0), ("i64.clz",), ("i64.sub",)]
    return body + [("end",)] * 3


def bytelen() -> Func:
    """Significant bytes of a word: (bit length + 7) / 8."""
    body = [*_bit_length(), ("i64.const", 7), ("i64.add",), ("i64.const", 3), ("i64.shr_u",)]
    return Func("w_bytelen", FuncType((I64,) * 4, (I64,)), [], body)


def clz() -> Func:
    """CLZ (EIP-7939): leading zero bits of a word, 256 for zero (256 - bit length)."""
    body: list[Instr] = [("i64.const", 256), *_bit_length(), ("i64.sub",)]
    body += [("i64.const", 0)] * 3
    return Func("w_clz", FuncType((I64,) * 4, (I64,) * 4), [], body)


# -- memory expansion ------------------------------------------------------------
def _mem_cost(words_local: int) -> list[Instr]:
    """3*w + w*w/512 (w < 2**28, so nothing overflows)."""
    return [
        ("local.get", words_local),
        ("i64.const", 3),
        ("i64.mul",),
        ("local.get", words_local),
        ("local.get", words_local),
        ("i64.mul",),
        ("i64.const", 9),
        ("i64.shr_u",),
        ("i64.add",),
    ]


def expand(memory_base: int) -> Func:
    """``expand(end, gas) -> gas'`` or -1 for out of gas; ``end`` is past ``msize``.

    Applies :func:`evmkiln.builtins.memory.expand`'s price (the caller has
    already checked the 2**32 cap); more pages than wasm32's 4 GiB are out
    of gas.  The pages themselves are asked of the host (:data:`HOST_GROW`):
    the runtime grows the memory and takes note of its new address, since a
    memory without a full 4 GiB reservation moves when it grows.  A refusal
    (the process is out of address space) returns -1 like out of gas, and the
    runtime raises the host's error instead of reporting that halt.
    """
    end, gas, nw, cw, cost, pages = 0, 1, 2, 3, 4, 5
    body: list[Instr] = [
        ("local.get", end),
        ("i64.const", 31),
        ("i64.add",),
        ("i64.const", 5),
        ("i64.shr_u",),
        ("local.set", nw),
        ("i32.const", 0),
        ("i64.load", 3, CTRL_MSIZE),
        ("i64.const", 5),
        ("i64.shr_u",),
        ("local.set", cw),
        *_mem_cost(nw),
        *_mem_cost(cw),
        ("i64.sub",),
        ("local.tee", cost),
        ("local.get", gas),
        ("i64.gt_u",),
        ("if", None),
        ("i64.const", -1),
        ("return",),
        ("end",),
        # pages needed for memory_base + nw*32
        ("local.get", nw),
        ("i64.const", 5),
        ("i64.shl",),
        ("i64.const", memory_base + PAGE - 1),
        ("i64.add",),
        ("i64.const", 16),
        ("i64.shr_u",),
        ("local.tee", pages),
        ("memory.size",),
        ("i64.extend_i32_u",),
        ("i64.gt_u",),
        ("if", None),
        ("local.get", pages),
        ("i64.const", MAX_PAGES),
        ("i64.gt_u",),
        ("if", None),
        ("i64.const", -1),
        ("return",),
        ("end",),
        ("i32.const", 0),
        ("local.get", pages),
        ("i64.store", 3, CTRL_GROW),
        ("i32.const", HOST_GROW),
        ("call", HOST_FUNC),
        ("if", None),
        ("i64.const", -1),
        ("return",),
        ("end",),
        ("end",),
        ("i32.const", 0),
        ("local.get", nw),
        ("i64.const", 5),
        ("i64.shl",),
        ("i64.store", 3, CTRL_MSIZE),
        ("local.get", gas),
        ("local.get", cost),
        ("i64.sub",),
    ]
    return Func("mem_expand", FuncType((I64, I64), (I64,)), [I64] * 4, body)


def _grow_if_needed(end: int, gas: int, expand_index: int) -> list[Instr]:
    """If ``end`` is past msize: cap check, then ``gas = expand(end, gas)``."""
    return [
        ("local.get", end),
        ("i32.const", 0),
        ("i64.load", 3, CTRL_MSIZE),
        ("i64.gt_u",),
        ("if", None),
        ("local.get", end),
        ("i64.const", MEMORY_LIMIT),
        ("i64.gt_u",),
        ("if", None),
        ("i64.const", -1),
        ("local.set", gas),
        ("else",),
        ("local.get", end),
        ("local.get", gas),
        ("call", expand_index),
        ("local.set", gas),
        ("end",),
        ("end",),
    ]


def access(expand_index: int) -> Func:
    """``access(o0..o3, size, gas) -> (offset, gas')``: ``mem.access`` (gas' -1: out of gas)."""
    size, gas, end = 4, 5, 6
    body: list[Instr] = [
        *_high_nonzero(0),
        _a(0),
        ("i64.const", MEMORY_LIMIT),
        ("i64.gt_u",),
        ("i32.or",),
        ("if", None),
        ("i64.const", 0),
        ("i64.const", -1),
        ("return",),
        ("end",),
        _a(0),
        ("local.get", size),
        ("i64.add",),
        ("local.set", end),
        *_grow_if_needed(end, gas, expand_index),
        _a(0),
        ("local.get", gas),
    ]
    return Func("mem_access", FuncType((I64,) * 6, (I64, I64)), [I64], body)


def region(expand_index: int) -> Func:
    """``region(o0..o3, n0..n3, gas) -> (offset, size, gas')``: ``mem.region``."""
    gas, end = 8, 9
    body: list[Instr] = [
        _b(0),
        _b(1),
        ("i64.or",),
        _b(2),
        ("i64.or",),
        _b(3),
        ("i64.or",),
        ("i64.eqz",),
        ("if", None),
        ("i64.const", 0),
        ("i64.const", 0),
        ("local.get", gas),
        ("return",),
        ("end",),
        *_high_nonzero(0),
        *_high_nonzero(4),
        ("i32.or",),
        _a(0),
        ("i64.const", MEMORY_LIMIT),
        ("i64.gt_u",),
        ("i32.or",),
        _b(0),
        ("i64.const", MEMORY_LIMIT),
        ("i64.gt_u",),
        ("i32.or",),
        ("if", None),
        ("i64.const", 0),
        ("i64.const", 0),
        ("i64.const", -1),
        ("return",),
        ("end",),
        _a(0),
        _b(0),
        ("i64.add",),
        ("local.set", end),
        *_grow_if_needed(end, gas, expand_index),
        _a(0),
        _b(0),
        ("local.get", gas),
    ]
    return Func("mem_region", FuncType((I64,) * 9, (I64, I64, I64)), [I64], body)


WORD_ROUTINES: dict[str, Callable[[Resolve], Func]] = {
    "add": lambda _: add(),
    "sub": lambda _: sub(),
    "mul": lambda _: mul(),
    "lt": lambda _: compare(False),
    "slt": lambda _: compare(True),
    "shl": lambda _: shl(),
    "shr": lambda _: shr(False),
    "sar": lambda _: shr(True),
    "byte": lambda _: byte(),
    "signextend": lambda _: signextend(),
    "clz": lambda _: clz(),
    **division.ROUTINES,
}
"""Routine name -> generator of the routine (given a resolver of the routines it
calls).  IR word operations call the routine of the same name (``gt``/``sgt``
use ``lt``/``slt`` with swapped operands); ``udivrem`` is internal."""
