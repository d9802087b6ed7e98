"""Hypothesis strategies that build EVM programs worth comparing.

Programs are sequences of snippets: pushes biased towards interesting words
and small offsets, single opcodes from every family, static and dynamic jumps
to labels resolved after layout, calls into the other contract, and exits.
Random stack shapes mean many programs halt early (underflow, bad jumps, out
of gas): those halts must match too.
"""

from __future__ import annotations

from hypothesis import strategies as st

INTERESTING = [0, 1, 2, 3, 7, 31, 32, 33, 64, 255, 256, 2**64 - 1, 2**128, 2**255, 2**256 - 1]
SMALL_OFFSETS = [0, 1, 4, 31, 32, 64, 96, 128, 1000]

ARITH = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B]
COMPARE_BITS = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D]
ENV = [0x30, 0x32, 0x33, 0x34, 0x35, 0x36, 0x38, 0x3A, 0x3D, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46,
       0x47, 0x48, 0x4A, 0x58, 0x59, 0x5A, 0x5F]  # fmt: skip
MEMORY = [0x20, 0x37, 0x39, 0x3E, 0x51, 0x52, 0x53, 0x5E]
STATE = [0x31, 0x3B, 0x3C, 0x3F, 0x40, 0x49, 0x54, 0x55, 0x5C, 0x5D, 0xA0, 0xA1, 0xA2]
STACK = [0x50, 0x80, 0x81, 0x82, 0x83, 0x8F, 0x90, 0x91, 0x92, 0x9F]
RARE = [0xFE, 0x0C, 0xEF, 0x00]  # INVALID, undefined opcodes, STOP

Snippet = tuple[str, int]


def _push(value: int) -> bytes:
    if value == 0:
        return b"\x5f"
    n = (value.bit_length() + 7) // 8
    return bytes([0x5F + n]) + value.to_bytes(n, "big")


words = st.one_of(
    st.sampled_from(INTERESTING),
    st.sampled_from(SMALL_OFFSETS),
    st.integers(min_value=0, max_value=2**256 - 1),
)

snippet = st.one_of(
    st.tuples(st.just("push"), words),
    st.tuples(st.just("push"), st.sampled_from(SMALL_OFFSETS)),
    st.tuples(st.just("op"), st.sampled_from(ARITH + COMPARE_BITS)),
    st.tuples(st.just("op"), st.sampled_from(ENV + MEMORY + STACK)),
    st.tuples(st.just("op"), st.sampled_from(STATE)),
    st.tuples(st.just("op"), st.sampled_from(RARE)),
    st.tuples(st.just("label"), st.just(0)),
    st.tuples(st.sampled_from(["jump", "jumpi", "djump", "djumpi"]), st.integers(0, 7)),
    st.tuples(st.sampled_from(["call", "staticcall", "delegatecall"]), st.integers(0, 3)),
    st.tuples(st.sampled_from(["return", "revert"]), st.sampled_from([0, 32, 64])),
)


def assemble(snippets: list[Snippet], other: bytes) -> bytes:
    """Lay out snippets; jumps go to the n-th label (or to pc 1 if there is none)."""

    def emit(label_pcs: list[int]) -> bytes:
        out = bytearray()
        labels = 0
        for kind, arg in snippets:
            if kind == "push":
                out += _push(arg)
            elif kind == "op":
                out.append(arg)
            elif kind == "label":
                out.append(0x5B)
                labels += 1
            elif kind in ("jump", "jumpi", "djump", "djumpi"):
                dest = label_pcs[arg % len(label_pcs)] if label_pcs else 1
                out += b"\x61" + dest.to_bytes(2, "big")
                if kind.startswith("d"):
                    out += b"\x34\x01"  # CALLVALUE ADD: the same target, known only at run time
                out.append(0x56 if kind.endswith("jump") else 0x57)
            elif kind in ("call", "staticcall", "delegatecall"):
                # retSize retOff argsSize argsOff [value] addr gas
                out += _push(32) + _push(arg * 32) + _push(arg * 4) + _push(0)
                if kind == "call":
                    out += _push(arg % 2)
                out += _push(int.from_bytes(other, "big")) + _push(20_000 * (arg + 1))
                out.append({"call": 0xF1, "staticcall": 0xFA, "delegatecall": 0xF4}[kind])
            else:
                out += _push(arg) + _push(0) + bytes([0xF3 if kind == "return" else 0xFD])
        return bytes(out)

    # Two passes: jump snippets have a fixed size, so label pcs are stable.
    first = emit([])
    pcs = []
    pc = 0
    code = first
    while pc < len(code):
        op = code[pc]
        if op == 0x5B:
            pcs.append(pc)
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return emit(pcs)


programs = st.lists(snippet, min_size=1, max_size=60)
