"""Builtins implemented in the generated code itself: no crossing into Python.

Only frame-local, host-free builtins live here.  Their LLVM IR helpers are
text, defined once per module when a function uses them (see
:data:`HELPERS`); the translator emits the memory expansion and the gas of
each (same order as the Python implementation: expansion, then the per-word
charge, then the work) and calls the helper for the work itself.

``keccak256`` is Keccak-f[1600] written out in LLVM IR, in its own module
(:mod:`evmkiln.backend_llvm.keccak`), in the lane form the host runs fastest.
"""

from __future__ import annotations

from evmkiln.backend_llvm import keccak
from evmkiln.backend_llvm.builtin_bridge import MEM_EXPAND
from evmkiln.backend_llvm.context_layout import FIELD_OFFSET, STATUS_HALT
from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.impl.gas import (
    SSTORE_CLEARS_REFUND,
    SSTORE_RESET,
    SSTORE_SET,
    WARM_STORAGE_READ,
)
from evmkiln.builtins.memory import MEMORY_LIMIT

NATIVE_BUILTINS: frozenset[str] = frozenset(
    {
        "address",
        "caller",
        "callvalue",
        "calldataload",
        "calldatasize",
        "calldatacopy",
        "codecopy",
        "mcopy",
        "returndatasize",
        "returndatacopy",
        "keccak256",
    }
)
"""Builtins the LLVM backend runs natively (the rest cross into Python)."""


_DATALOAD = """define internal i256 @evmkiln.dataload(ptr %data, i64 %len, i256 %off)
    noinline nounwind {
entry:
  %buf = alloca i256, align 8
  %lenw = zext i64 %len to i256
  %inside = icmp ult i256 %off, %lenw
  br i1 %inside, label %some, label %none
none:
  ret i256 0
some:
  %o = trunc i256 %off to i64
  %src = getelementptr i8, ptr %data, i64 %o
  %avail = sub i64 %len, %o
  %full = icmp uge i64 %avail, 32
  br i1 %full, label %fast, label %tail
fast:
  %w = load i256, ptr %src, align 1
  %r = call i256 @llvm.bswap.i256(i256 %w)
  ret i256 %r
tail:
  store i256 0, ptr %buf, align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %buf, ptr align 1 %src, i64 %avail, i1 false)
  %t = load i256, ptr %buf, align 8
  %rt = call i256 @llvm.bswap.i256(i256 %t)
  ret i256 %rt
}"""

# ``size`` is non-zero and ``dst`` covers it (memory was expanded first); bytes of
# the source past its end read as zero, whatever ``off`` is.
_COPY = """define internal void @evmkiln.copy_padded(
    ptr %dst, ptr %src, i64 %len, i256 %off, i64 %size) noinline nounwind {
entry:
  %lenw = zext i64 %len to i256
  %inside = icmp ult i256 %off, %lenw
  br i1 %inside, label %some, label %none
none:
  call void @llvm.memset.p0.i64(ptr align 1 %dst, i8 0, i64 %size, i1 false)
  ret void
some:
  %o = trunc i256 %off to i64
  %from = getelementptr i8, ptr %src, i64 %o
  %avail = sub i64 %len, %o
  %short = icmp ult i64 %avail, %size
  %n = select i1 %short, i64 %avail, i64 %size
  call void @llvm.memcpy.p0.p0.i64(ptr align 1 %dst, ptr align 1 %from, i64 %n, i1 false)
  %rest = sub i64 %size, %n
  %tail = getelementptr i8, ptr %dst, i64 %n
  call void @llvm.memset.p0.i64(ptr align 1 %tail, i8 0, i64 %rest, i1 false)
  ret void
}"""


def _memory_price(p: str) -> str:
    """``%<p>c = 3 * %<p>w + %<p>w * %<p>w / 512``: the price of a memory of that many words."""
    return (
        f"  %{p}sq = mul i64 %{p}w, %{p}w\n"
        f"  %{p}q = lshr i64 %{p}sq, 9\n"
        f"  %{p}3 = mul i64 %{p}w, 3\n"
        f"  %{p}c = add i64 %{p}3, %{p}q"
    )


def _mem_grow() -> str:
    """``i32 @evmkiln.mem_grow(ptr ctx, i64 offset, i64 size)``: expansion without Python.

    Called only when ``offset + size`` lies past msize, with both operands
    already clamped below 2**34 by the caller (so the sum cannot wrap).  Same
    rule and order as :func:`evmkiln.builtins.memory.expand`: the size cap,
    then the price ``3w + w*w/512`` of the new word count minus the old (at
    most 2**27 words, so no product overflows), then the gas check.  A new
    size within ``mem_cap`` only raises ``mem_len`` (the spare capacity is
    zero already); a larger one goes to the Python entry, which charges and
    reallocates.  Returns 0 or the status to exit with.
    """
    f = FIELD_OFFSET
    halt, oog = STATUS_HALT, int(HaltKind.OUT_OF_GAS)
    return f"""define internal i32 @evmkiln.mem_grow(ptr %ctx, i64 %off, i64 %size)
    noinline nounwind {{
entry:
  %end = add i64 %off, %size
  %over = icmp ugt i64 %end, {MEMORY_LIMIT}
  br i1 %over, label %oog, label %price
price:
  %lenp = getelementptr inbounds i8, ptr %ctx, i64 {f["mem_len"]}
  %len = load i64, ptr %lenp, align 8
  %inside = icmp ule i64 %end, %len
  br i1 %inside, label %done, label %grow
grow:
  %e31 = add i64 %end, 31
  %nw = lshr i64 %e31, 5
  %ow = lshr i64 %len, 5
{_memory_price("n")}
{_memory_price("o")}
  %cost = sub i64 %nc, %oc
  %gasp = getelementptr inbounds i8, ptr %ctx, i64 {f["gas"]}
  %gas = load i64, ptr %gasp, align 8
  %short = icmp ugt i64 %cost, %gas
  br i1 %short, label %oog, label %room
room:
  %newlen = shl i64 %nw, 5
  %capp = getelementptr inbounds i8, ptr %ctx, i64 {f["mem_cap"]}
  %cap = load i64, ptr %capp, align 8
  %fits = icmp ule i64 %newlen, %cap
  br i1 %fits, label %commit, label %python
commit:
  %left = sub i64 %gas, %cost
  store i64 %left, ptr %gasp, align 8
  store i64 %newlen, ptr %lenp, align 8
  ret i32 0
python:
  %tablep = getelementptr inbounds i8, ptr %ctx, i64 {f["entries"]}
  %table = load ptr, ptr %tablep, align 8
  %fnp = getelementptr inbounds ptr, ptr %table, i64 {MEM_EXPAND}
  %fn = load ptr, ptr %fnp, align 8
  %status = call i32 %fn(ptr %ctx, i64 %off, i64 %size)
  ret i32 %status
oog:
  %kindp = getelementptr inbounds i8, ptr %ctx, i64 {f["halt_kind"]}
  store i64 {oog}, ptr %kindp, align 8
  ret i32 {halt}
done:
  ret i32 0
}}"""


# EIP-2200 as amended by EIP-2929/3529, for a warm slot: ``{gas, refund}`` of
# writing ``new`` over ``current``, whose value at the start of the transaction
# was ``original``.  The same rules as ``_sstore_price`` in the builtins.
_RESTORE_SET = SSTORE_SET - WARM_STORAGE_READ
_RESTORE_RESET = SSTORE_RESET - WARM_STORAGE_READ
_SSTORE_PRICE_SIGNATURE = (
    "{i64, i64} @evmkiln.sstore_price(i256 %original, i256 %current, i256 %new) nounwind"
)
_SSTORE_PRICE = f"""define internal {_SSTORE_PRICE_SIGNATURE} {{
  %noop = icmp eq i256 %current, %new
  %clean = icmp eq i256 %original, %current
  %o0 = icmp eq i256 %original, 0
  %c0 = icmp eq i256 %current, 0
  %n0 = icmp eq i256 %new, 0
  %o1 = xor i1 %o0, true
  %clean_cost = select i1 %o0, i64 {SSTORE_SET}, i64 {SSTORE_RESET}
  %clears = and i1 %o1, %n0
  %clean_refund = select i1 %clears, i64 {SSTORE_CLEARS_REFUND}, i64 0
  %unclears = and i1 %o1, %c0
  %r1 = select i1 %unclears, i64 -{SSTORE_CLEARS_REFUND}, i64 0
  %r2 = add i64 %r1, %clean_refund
  %back = icmp eq i256 %original, %new
  %restore = select i1 %o0, i64 {_RESTORE_SET}, i64 {_RESTORE_RESET}
  %r3 = select i1 %back, i64 %restore, i64 0
  %dirty_refund = add i64 %r2, %r3
  %cost1 = select i1 %clean, i64 %clean_cost, i64 {WARM_STORAGE_READ}
  %cost = select i1 %noop, i64 {WARM_STORAGE_READ}, i64 %cost1
  %refund1 = select i1 %clean, i64 %clean_refund, i64 %dirty_refund
  %refund = select i1 %noop, i64 0, i64 %refund1
  %p0 = insertvalue {{i64, i64}} undef, i64 %cost, 0
  %p = insertvalue {{i64, i64}} %p0, i64 %refund, 1
  ret {{i64, i64}} %p
}}"""


HELPERS: dict[str, str] = {
    "sstore_price": _SSTORE_PRICE,
    "mem_grow": _mem_grow(),
    "keccak256": keccak.keccak256(keccak.host_lanes()),
    "dataload": _DATALOAD,
    "copy_padded": _COPY,
}

INTRINSICS = (
    """declare i256 @llvm.bswap.i256(i256)
declare i256 @llvm.ctlz.i256(i256, i1)
declare {i64, i1} @llvm.usub.with.overflow.i64(i64, i64)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
"""
    + keccak.INTRINSICS
)
