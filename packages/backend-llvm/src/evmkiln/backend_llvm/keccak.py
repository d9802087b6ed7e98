"""Keccak-256 in LLVM IR: the ``keccak256`` helper every hashing module carries.

Keccak-f[1600] is written out over 25 lanes held in SSA values, with the
original Keccak padding (``0x01 .. 0x80``), as ``eth_hash`` computes it.
Lanes are read from memory as little-endian 64-bit integers, which is the
byte order of every host LLVM's JIT targets here (x86-64, AArch64).

The lanes take one of two forms (:class:`Lanes`), chosen for the host:

* ``i64``: general-purpose registers.  Twenty-five lanes and the column
  parities do not fit in x86-64's sixteen, so about a third of the
  permutation's instructions are spills and reloads.
* ``<2 x i64>`` (only element 0 is meaningful), on hosts with AVX-512VL:
  thirty-two vector registers hold the whole state, a rotate is one
  ``vprolq``, and LLVM fuses chi's ``a ^ (~b & c)`` and the column
  parities' three-way xors into ``vpternlogq``.  A 32-byte hash takes
  222 ns against 270 ns (2-core AMD EPYC, Zen 4, the default pipeline and
  -O2 code generator), and 359 ns against 510 ns under the fast code
  generator that large functions get before their tier-up.

Hashes of exactly one or two words (a word's hash, a mapping's slot) skip
the general path's byte copy and padding: their lanes are stored as whole
64-bit words, so the permutation's loads forward from those stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.binding as llvm

from evmkiln.builtins.keccak_constants import RATE, ROTATIONS, ROUND_CONSTANTS, pi_target

ROUNDS_PER_ITERATION = 2
"""Rounds of Keccak-f written out per iteration of the round loop.

32-byte hashes on a 2-core AMD EPYC, in one process, with one, two, three,
four and six rounds per iteration: ``i64`` lanes 277, 271, 267, 266, 264 ns;
``<2 x i64>`` lanes 235, 223, 229, 224, 223 ns.  All 24 written out (no
loop) was slower still with ``i64`` lanes (320 ns).  Two keep the helper
small (every module that hashes carries it) at no cost on the vector form."""

WORD_PATHS = (1, 2)
"""Input lengths, in 32-byte words, hashed without the general path's copy."""

_PI_SOURCE = {pi_target(i): i for i in range(25)}
"""For each lane of rho-and-pi's output, the input lane it comes from."""


def _signed64(value: int) -> str:
    return str(value - (1 << 64) if value >> 63 else value)


@dataclass(frozen=True, slots=True)
class Lanes:
    """The LLVM type Keccak-f computes its lanes in, and how to spell values of it."""

    type: str
    """``i64``, or a vector of 64-bit elements whose element 0 is the lane."""
    rotate: str
    """The funnel-shift intrinsic for ``type`` (a rotate when both inputs agree)."""

    @property
    def vector(self) -> bool:
        return self.type != "i64"

    def constant(self, value: int) -> str:
        """``value`` in every element."""
        return f"splat (i64 {value})" if self.vector else str(value)

    def rotated(self, name: str, value: str, amount: int) -> str:
        t, count = self.type, self.constant(amount)
        return f"  {name} = call {t} {self.rotate}({t} {value}, {t} {value}, {t} {count})"

    def from_word(self, name: str, word: str) -> str:
        """Lane ``name`` holding the ``i64`` value ``word``."""
        if self.vector:
            return f"  {name} = insertelement {self.type} poison, i64 {word}, i64 0"
        return f"  {name} = or i64 {word}, 0"

    def to_word(self, name: str, lane: str) -> str:
        """The ``i64`` value ``name`` of lane ``lane``."""
        if self.vector:
            return f"  {name} = extractelement {self.type} {lane}, i64 0"
        return f"  {name} = or i64 {lane}, 0"


GENERAL = Lanes("i64", "@llvm.fshl.i64")
VECTOR = Lanes("<2 x i64>", "@llvm.fshl.v2i64")


def host_lanes() -> Lanes:
    """:data:`VECTOR` where the host has AVX-512VL (and so 32 vector registers,
    ``vprolq`` and ``vpternlogq`` on 64-bit elements), :data:`GENERAL` elsewhere.

    Without AVX-512 the vector form is still correct but slower: SSE has 16
    registers, no rotate and no three-input logic.  Artifacts record the CPU
    features they were built for, so code built here never runs on a host
    without them.
    """
    try:
        features = llvm.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot tell on this host
        return GENERAL
    return VECTOR if features.get("avx512vl") and features.get("avx512f") else GENERAL


def _round(lanes: Lanes, a: str, out: str, rc: str) -> list[str]:
    """One round from lanes ``%{a}0..24`` to ``%{out}0..24``, round constant ``rc``.

    chi reads only lanes of one plane (same ``y``), so each output plane is
    finished right after its five rho-and-pi lanes: fewer lanes are live at
    once than when all 25 are rotated first (4.5 % faster per hash).
    """
    t = lanes.type
    lines = []
    for x in range(5):
        lines.append(f"  %{a}c{x}a = xor {t} %{a}{x}, %{a}{x + 5}")
        lines.append(f"  %{a}c{x}b = xor {t} %{a}c{x}a, %{a}{x + 10}")
        lines.append(f"  %{a}c{x}c = xor {t} %{a}c{x}b, %{a}{x + 15}")
        lines.append(f"  %{a}c{x} = xor {t} %{a}c{x}c, %{a}{x + 20}")
    for x in range(5):
        lines.append(lanes.rotated(f"%{a}r{x}", f"%{a}c{(x + 1) % 5}", 1))
        lines.append(f"  %{a}d{x} = xor {t} %{a}c{(x - 1) % 5}, %{a}r{x}")
    for y in range(5):
        for x in range(5):  # theta, then rho and pi: B[y, 2x+3y] = rot(A[x, y])
            j = x + 5 * y
            i = _PI_SOURCE[j]
            lines.append(f"  %{a}t{i} = xor {t} %{a}{i}, %{a}d{i % 5}")
            if ROTATIONS[i]:
                lines.append(lanes.rotated(f"%{a}b{j}", f"%{a}t{i}", ROTATIONS[i]))
            else:
                lines.append(f"  %{a}b{j} = or {t} %{a}t{i}, {lanes.constant(0)}")
        for x in range(5):  # chi, and iota on lane 0
            i = x + 5 * y
            b1 = (x + 1) % 5 + 5 * y
            b2 = (x + 2) % 5 + 5 * y
            lines.append(f"  %{a}k{i}n = xor {t} %{a}b{b1}, {lanes.constant(-1)}")
            lines.append(f"  %{a}k{i}a = and {t} %{a}k{i}n, %{a}b{b2}")
            target = f"%{out}{i}" if i else f"%{a}chi0"
            lines.append(f"  {target} = xor {t} %{a}b{i}, %{a}k{i}a")
    lines.append(f"  %{out}0 = xor {t} %{a}chi0, {rc}")
    return lines


def _permutation(lanes: Lanes) -> str:
    """``void @evmkiln.keccakf(ptr state)``: the permutation on 25 lanes in memory."""
    per, t = ROUNDS_PER_ITERATION, lanes.type
    out = ["define internal void @evmkiln.keccakf(ptr %st) noinline nounwind {", "entry:"]
    for i in range(25):
        out.append(f"  %p{i} = getelementptr inbounds i64, ptr %st, i64 {i}")
        out.append(f"  %w{i} = load i64, ptr %p{i}, align 8")
        out.append(lanes.from_word(f"%a{i}", f"%w{i}"))
    out += ["  br label %round", "round:"]
    out.append("  %r = phi i64 [ 0, %entry ], [ %rn, %round ]")
    for i in range(25):
        out.append(f"  %s0_{i} = phi {t} [ %a{i}, %entry ], [ %s{per}_{i}, %round ]")
    for k in range(per):
        out.append(f"  %ri{k} = add i64 %r, {k}")
        table = "[24 x i64], ptr @evmkiln.keccak_rc"
        out.append(f"  %rcp{k} = getelementptr inbounds {table}, i64 0, i64 %ri{k}")
        out.append(f"  %rcw{k} = load i64, ptr %rcp{k}, align 8")
        if lanes.vector:
            out.append(f"  %rc{k} = insertelement {t} zeroinitializer, i64 %rcw{k}, i64 0")
        else:
            out.append(f"  %rc{k} = or i64 %rcw{k}, 0")
        out += _round(lanes, f"s{k}_", f"s{k + 1}_", f"%rc{k}")
    out.append(f"  %rn = add i64 %r, {per}")
    out.append("  %more = icmp ult i64 %rn, 24")
    out.append("  br i1 %more, label %round, label %done")
    out.append("done:")
    for i in range(25):
        out.append(lanes.to_word(f"%e{i}", f"%s{per}_{i}"))
        out.append(f"  store i64 %e{i}, ptr %p{i}, align 8")
    out += ["  ret void", "}"]
    return "\n".join(out)


def _absorb() -> str:
    """``void @evmkiln.keccak_absorb(ptr state, ptr block)``: xor one block, permute."""
    out = ["define internal void @evmkiln.keccak_absorb(ptr %st, ptr %in) nounwind {"]
    for i in range(RATE // 8):
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
            f"  %{tag}endp = getelementptr inbounds i8, ptr {block}, i64 {RATE - 1}",
            f"  %{tag}endb = load i8, ptr %{tag}endp, align 1",
            f"  %{tag}endx = or i8 %{tag}endb, -128",
            f"  store i8 %{tag}endx, ptr %{tag}endp, align 1",
        ]
    )


def _words(count: int) -> str:
    """The block of ``keccak256`` for an input of exactly ``count`` words.

    The state is zero, so absorbing the padded block is storing its lanes:
    the input's, then 0x01 in the lane after them and 0x80 in the top byte of
    the rate's last lane, each as a whole 64-bit store.
    """
    tag, lanes = f"w{count}", 4 * count
    last = RATE // 8 - 1
    assert lanes < last, "the padding's two bytes must fall in different lanes"
    out = [f"{tag}:"]
    for i in range(lanes):
        out.append(f"  %{tag}q{i} = getelementptr inbounds i64, ptr %data, i64 {i}")
        out.append(f"  %{tag}l{i} = load i64, ptr %{tag}q{i}, align 1")
        out.append(f"  %{tag}p{i} = getelementptr inbounds i64, ptr %st, i64 {i}")
        out.append(f"  store i64 %{tag}l{i}, ptr %{tag}p{i}, align 8")
    out.append(f"  %{tag}first = getelementptr inbounds i64, ptr %st, i64 {lanes}")
    out.append(f"  store i64 1, ptr %{tag}first, align 8")
    out.append(f"  %{tag}end = getelementptr inbounds i64, ptr %st, i64 {last}")
    out.append(f"  store i64 {_signed64(0x80 << 56)}, ptr %{tag}end, align 8")
    out.append("  call void @evmkiln.keccakf(ptr %st)")
    out.append("  br label %out")
    return "\n".join(out)


def keccak256(lanes: Lanes, *, exported: bool = False) -> str:
    """The helper's text: ``i256 @evmkiln.keccak256(ptr data, i64 len)`` and what it calls.

    The result is the hash as a big-endian word, as the KECCAK256 opcode pushes it.
    The entry is internal to its module unless ``exported`` (the process's
    shared copy, :mod:`~evmkiln.backend_llvm.shared_helpers`).
    """
    linkage = "" if exported else "internal "
    rc = ", ".join(f"i64 {_signed64(c)}" for c in ROUND_CONSTANTS)
    cases = " ".join(f"i64 {32 * n}, label %w{n}" for n in WORD_PATHS)
    words = "\n".join(_words(n) for n in WORD_PATHS)
    return f"""@evmkiln.keccak_rc = internal unnamed_addr constant [24 x i64] [{rc}]

{_permutation(lanes)}

{_absorb()}

define {linkage}i256 @evmkiln.keccak256(ptr %data, i64 %len) noinline nounwind {{
entry:
  %st = alloca [25 x i64], align 8
  %buf = alloca [{RATE} x i8], align 8
  call void @llvm.memset.p0.i64(ptr align 8 %st, i8 0, i64 200, i1 false)
  switch i64 %len, label %bytes [ {cases} ]
{words}
bytes:
  %single = icmp ult i64 %len, {RATE}
  br i1 %single, label %one, label %loop
one:
  ; one block: the state is zero, so xor-ing the padded block into it is
  ; copying the input and the two padding bits
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %st, ptr align 1 %data, i64 %len, i1 false)
{_pad("%st", "%len", "o")}
  call void @evmkiln.keccakf(ptr %st)
  br label %out
loop:
  %p = phi ptr [ %data, %bytes ], [ %pn, %block ]
  %rem = phi i64 [ %len, %bytes ], [ %remn, %block ]
  %full = icmp uge i64 %rem, {RATE}
  br i1 %full, label %block, label %last
block:
  call void @evmkiln.keccak_absorb(ptr %st, ptr %p)
  %pn = getelementptr i8, ptr %p, i64 {RATE}
  %remn = sub i64 %rem, {RATE}
  br label %loop
last:
  call void @llvm.memset.p0.i64(ptr align 8 %buf, i8 0, i64 {RATE}, i1 false)
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


INTRINSICS = (
    "declare i64 @llvm.fshl.i64(i64, i64, i64)\n"
    "declare <2 x i64> @llvm.fshl.v2i64(<2 x i64>, <2 x i64>, <2 x i64>)"
)
"""Declarations the helper's two forms need beyond the module's own."""
