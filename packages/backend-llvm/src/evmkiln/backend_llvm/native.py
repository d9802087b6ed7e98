"""Builtins implemented in the generated code itself: no crossing into Python.

Only frame-local, host-free builtins live here.  Their LLVM IR helpers are
text, defined once per module when a function uses them (see
:data:`HELPERS`); the translator emits the memory expansion and the gas of
each (same order as the Python implementation: expansion, then the per-word
charge, then the work) and calls the helper for the work itself.

``keccak256`` is Keccak-f[1600] written out in LLVM IR (24 rounds over 25
lanes held in SSA values) with the original Keccak padding (``0x01 .. 0x80``),
as ``eth_hash`` computes it.  Lanes are read from memory as little-endian
64-bit integers, which is the byte order of every host LLVM's JIT targets here
(x86-64, AArch64).
"""

from __future__ import annotations

from evmkiln.backend_llvm.builtin_bridge import MEM_EXPAND
from evmkiln.backend_llvm.context_layout import FIELD_OFFSET, STATUS_HALT
from evmkiln.builtins.halts import HaltKind
from evmkiln.builtins.impl.gas import (
    SSTORE_CLEARS_REFUND,
    SSTORE_RESET,
    SSTORE_SET,
    WARM_STORAGE_READ,
)
from evmkiln.builtins.keccak_constants import RATE as KECCAK_RATE
from evmkiln.builtins.keccak_constants import ROTATIONS, ROUND_CONSTANTS, pi_target
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


def _signed64(value: int) -> str:
    return str(value - (1 << 64) if value >> 63 else value)


KECCAK_ROUNDS_PER_ITERATION = 2
"""Rounds of Keccak-f written out per iteration of the round loop.

Measured on 32-byte inputs on a 2-core AMD EPYC, in one process against the
previous helper (one round per iteration, all 25 lanes rotated before chi:
287 ns a hash): one round per iteration in plane order 274 ns, two 267 ns,
three 261 ns, four 277 ns, all 24 written out (no loop) 320 ns.  Two keep
the helper small (every module that hashes carries it); with the one-block
path of ``keccak256`` a word hashes in 270 ns against 288 ns."""
_PI_SOURCE = {pi_target(i): i for i in range(25)}
"""For each lane of rho-and-pi's output, the input lane it comes from."""


def _keccak_round(a: str, out: str, rc: str) -> list[str]:
    """One round from lanes ``%{a}0..24`` to ``%{out}0..24``, round constant ``rc``.

    chi reads only lanes of one plane (same ``y``), so each output plane is
    finished right after its five rho-and-pi lanes: fewer lanes are live at
    once than when all 25 are rotated first (4.5 % faster per hash).
    """
    lines = []
    for x in range(5):
        lines.append(f"  %{a}c{x}a = xor i64 %{a}{x}, %{a}{x + 5}")
        lines.append(f"  %{a}c{x}b = xor i64 %{a}c{x}a, %{a}{x + 10}")
        lines.append(f"  %{a}c{x}c = xor i64 %{a}c{x}b, %{a}{x + 15}")
        lines.append(f"  %{a}c{x} = xor i64 %{a}c{x}c, %{a}{x + 20}")
    for x in range(5):
        c = f"%{a}c{(x + 1) % 5}"
        lines.append(f"  %{a}d{x}r = call i64 @llvm.fshl.i64(i64 {c}, i64 {c}, i64 1)")
        lines.append(f"  %{a}d{x} = xor i64 %{a}c{(x - 1) % 5}, %{a}d{x}r")
    for y in range(5):
        for x in range(5):  # theta, then rho and pi: B[y, 2x+3y] = rot(A[x, y])
            j = x + 5 * y
            i = _PI_SOURCE[j]
            lines.append(f"  %{a}t{i} = xor i64 %{a}{i}, %{a}d{i % 5}")
            t = f"%{a}t{i}"
            if ROTATIONS[i]:
                lines.append(
                    f"  %{a}b{j} = call i64 @llvm.fshl.i64(i64 {t}, i64 {t}, i64 {ROTATIONS[i]})"
                )
            else:
                lines.append(f"  %{a}b{j} = or i64 {t}, 0")
        for x in range(5):  # chi, and iota on lane 0
            i = x + 5 * y
            b1 = (x + 1) % 5 + 5 * y
            b2 = (x + 2) % 5 + 5 * y
            lines.append(f"  %{a}k{i}n = xor i64 %{a}b{b1}, -1")
            lines.append(f"  %{a}k{i}a = and i64 %{a}k{i}n, %{a}b{b2}")
            target = f"%{out}{i}" if i else f"%{a}chi0"
            lines.append(f"  {target} = xor i64 %{a}b{i}, %{a}k{i}a")
    lines.append(f"  %{out}0 = xor i64 %{a}chi0, {rc}")
    return lines


def _keccakf() -> str:
    """``void @evmkiln.keccakf(ptr state)``: the permutation on 25 lanes in memory."""
    per = KECCAK_ROUNDS_PER_ITERATION
    out = ["define internal void @evmkiln.keccakf(ptr %st) noinline nounwind {", "entry:"]
    for i in range(25):
        out.append(f"  %p{i} = getelementptr inbounds i64, ptr %st, i64 {i}")
        out.append(f"  %a{i} = load i64, ptr %p{i}, align 8")
    out += ["  br label %round", "round:"]
    out.append("  %r = phi i64 [ 0, %entry ], [ %rn, %round ]")
    for i in range(25):
        out.append(f"  %s0_{i} = phi i64 [ %a{i}, %entry ], [ %s{per}_{i}, %round ]")
    for k in range(per):
        out.append(f"  %ri{k} = add i64 %r, {k}")
        table = "[24 x i64], ptr @evmkiln.keccak_rc"
        out.append(f"  %rcp{k} = getelementptr inbounds {table}, i64 0, i64 %ri{k}")
        out.append(f"  %rc{k} = load i64, ptr %rcp{k}, align 8")
        out += _keccak_round(f"s{k}_", f"s{k + 1}_", f"%rc{k}")
    out.append(f"  %rn = add i64 %r, {per}")
    out.append("  %more = icmp ult i64 %rn, 24")
    out.append("  br i1 %more, label %round, label %done")
    out.append("done:")
    for i in range(25):
        out.append(f"  store i64 %s{per}_{i}, ptr %p{i}, align 8")
    out += ["  ret void", "}"]
    return "\n".join(out)


def _absorb() -> str:
    """``void @evmkiln.keccak_absorb(ptr state, ptr block)``: xor one block, permute."""
    out = ["define internal void @evmkiln.keccak_absorb(ptr %st, ptr %in) nounwind {"]
    for i in range(KECCAK_RATE // 8):
        out.append(f"  %q{i} = getelementptr inbounds i64, ptr %in, i64 {i}")
        out.append(f"  %w{i} = load i64, ptr %q{i}, align 1")
        out.append(f"  %p{i} = getelementptr inbounds i64, ptr %st, i64 {i}")
        out.append(f"  %s{i} = load i64, ptr %p{i}, align 8")
        out.append(f"  %x{i} = xor i64 %s{i}, %w{i}")
        out.append(f"  store i64 %x{i}, ptr %p{i}, align 8")
    out += ["  call void @evmkiln.keccakf(ptr %st)", "  ret void", "}"]
    return "\n".join(out)


def _pad(block: str, length: str, tag: str) -> str:
    """Keccak's padding of a block holding ``length`` bytes: 0x01 after them, 0x80 in
    the last byte of the rate (both in one byte when ``length`` is the rate minus one)."""
    return "\n".join(
        [
            f"  %{tag}first = getelementptr inbounds i8, ptr {block}, i64 {length}",
            f"  store i8 1, ptr %{tag}first, align 1",
            f"  %{tag}endp = getelementptr inbounds i8, ptr {block}, i64 {KECCAK_RATE - 1}",
            f"  %{tag}endb = load i8, ptr %{tag}endp, align 1",
            f"  %{tag}endx = or i8 %{tag}endb, -128",
            f"  store i8 %{tag}endx, ptr %{tag}endp, align 1",
        ]
    )


_RC = ", ".join(f"i64 {_signed64(rc)}" for rc in ROUND_CONSTANTS)

_KECCAK = f"""@evmkiln.keccak_rc = internal unnamed_addr constant [24 x i64] [{_RC}]

{_keccakf()}

{_absorb()}

define internal i256 @evmkiln.keccak256(ptr %data, i64 %len) noinline nounwind {{
entry:
  %st = alloca [25 x i64], align 8
  %buf = alloca [{KECCAK_RATE} x i8], align 8
  call void @llvm.memset.p0.i64(ptr align 8 %st, i8 0, i64 200, i1 false)
  %single = icmp ult i64 %len, {KECCAK_RATE}
  br i1 %single, label %one, label %loop
one:
  ; one block (every hash of a word or two): the state is zero, so xor-ing the
  ; padded block into it is copying the input and the two padding bits
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %st, ptr align 1 %data, i64 %len, i1 false)
{_pad("%st", "%len", "o")}
  call void @evmkiln.keccakf(ptr %st)
  br label %out
loop:
  %p = phi ptr [ %data, %entry ], [ %pn, %block ]
  %rem = phi i64 [ %len, %entry ], [ %remn, %block ]
  %full = icmp uge i64 %rem, {KECCAK_RATE}
  br i1 %full, label %block, label %last
block:
  call void @evmkiln.keccak_absorb(ptr %st, ptr %p)
  %pn = getelementptr i8, ptr %p, i64 {KECCAK_RATE}
  %remn = sub i64 %rem, {KECCAK_RATE}
  br label %loop
last:
  call void @llvm.memset.p0.i64(ptr align 8 %buf, i8 0, i64 {KECCAK_RATE}, i1 false)
  %some = icmp ne i64 %rem, 0
  br i1 %some, label %copy, label %pad
copy:
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %buf, ptr align 1 %p, i64 %rem, i1 false)
  br label %pad
pad:
{_pad("%buf", "%rem", "")}
  call void @evmkiln.keccak_absorb(ptr %st, ptr %buf)
  br label %out
out:
  %h = load i256, ptr %st, align 8
  %r = call i256 @llvm.bswap.i256(i256 %h)
  ret i256 %r
}}"""

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
    "keccak256": _KECCAK,
    "dataload": _DATALOAD,
    "copy_padded": _COPY,
}

INTRINSICS = """declare i256 @llvm.bswap.i256(i256)
declare i256 @llvm.ctlz.i256(i256, i1)
declare i64 @llvm.fshl.i64(i64, i64, i64)
declare {i64, i1} @llvm.usub.with.overflow.i64(i64, i64)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)"""
