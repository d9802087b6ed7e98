"""Hypothesis strategies over the fuzzer's snippet language (:mod:`evmkiln.fuzz.snippets`).

Programs are sequences of snippets: pushes biased towards interesting words
and small offsets, single opcodes from every family, static and dynamic jumps
to labels resolved after layout, calls into the other contract, and exits.
The lists and the assembler live in the package, where the fuzzer's seeded
generator draws from them too; this module only adds hypothesis's drawing
(and shrinking) on top.
"""

from __future__ import annotations

from hypothesis import strategies as st

from evmkiln.fuzz.snippets import (
    ARITH,
    CALLS,
    COMPARE_BITS,
    ENV,
    EXITS,
    INTERESTING,
    JUMPS,
    MEMORY,
    RARE,
    SMALL_OFFSETS,
    STACK,
    STATE,
    Snippet,
    assemble,
)

__all__ = [
    "Snippet",
    "assemble",
    "assemble_labels",
    "internal_call_programs",
    "programs",
    "snippet",
    "words",
]

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
    st.tuples(st.sampled_from(list(JUMPS)), st.integers(0, 7)),
    st.tuples(st.sampled_from(list(CALLS)), st.integers(0, 3)),
    st.tuples(st.sampled_from(list(EXITS)), st.sampled_from([0, 32, 64])),
)

programs = st.lists(snippet, min_size=1, max_size=60)


# -- internal calls ----------------------------------------------------------------
# Programs shaped like compiler output: functions called by pushing a return
# address and jumping, returning through it (``SWAP1 JUMP``), nested and
# recursive calls, return addresses that are not JUMPDESTs, and function
# pointers or return addresses known only at run time.

Asm = list[int | str | tuple[str, str]]
"""Opcodes (ints), ``("push", label)`` (a PUSH2 of a label's pc) and label names."""


def assemble_labels(items: Asm) -> bytes:
    """Lay out ``items``; ``("push", name)`` becomes PUSH2 of label ``name``'s pc."""
    pcs: dict[str, int] = {}
    pc = 0
    for it in items:
        if isinstance(it, str):
            pcs[it] = pc
            pc += 1
        else:
            pc += 3 if isinstance(it, tuple) else 1
    out = bytearray()
    for it in items:
        if isinstance(it, str):
            out.append(0x5B)
        elif isinstance(it, tuple):
            out += b"\x61" + pcs[it[1]].to_bytes(2, "big")
        else:
            out.append(it)
    return bytes(out)


def _push1(v: int) -> list[int | str | tuple[str, str]]:
    return [0x60, v & 0xFF]


# A function's body step keeps [ret, x] shape: x -> f(x).
_STEPS = st.sampled_from(["add", "mul", "xor", "store", "not", "shr"])


@st.composite
def internal_call_programs(draw: st.DrawFn) -> bytes:
    """A main sequence of calls into 1-3 functions (each ``[ret, x] -> [x']``) and R,
    a recursive function, with results stored; see the comment above."""
    nfun = draw(st.integers(1, 3))
    items: Asm = []
    calls = draw(
        st.lists(
            st.tuples(
                st.integers(0, nfun),  # nfun means R
                st.integers(0, 255),  # argument
                st.integers(0, 3),  # padding slots below the call (varies the height)
                st.sampled_from(["ok", "ok", "ok", "ok", "bad", "calldata", "pointer"]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    for n, (fi, arg, pad, how) in enumerate(calls):
        ret = f"r{n}"
        items += [0x5F] * pad
        if how == "bad":
            items += _push1(draw(st.sampled_from([0x00, 0x02, 0xFF])))  # not a JUMPDEST here
        elif how == "calldata":
            items += [0x5F, 0x35]  # CALLDATALOAD(0): any address, known only at run time
        else:
            items.append(("push", ret))
        items += _push1(arg)
        if how == "pointer":  # f0 or f1 by CALLVALUE parity (a runtime function pointer)
            # f0 + (CALLVALUE & 1) * (f1 - f0)
            items += [("push", "f1"), ("push", "f0"), 0x90, 0x03, 0x34, 0x60, 1, 0x16, 0x02]
            items += [("push", "f0"), 0x01]
        else:
            items.append(("push", "R" if fi == nfun else f"f{fi}"))
        items += [0x56, ret]
        items += [*_push1(n), 0x55]  # SSTORE(n, result)
        items += [0x50] * pad
    items.append(0x00)
    # Functions: [ret, x] -> [ret, x'] steps, then SWAP1 JUMP.
    for i in range(max(nfun, 2)):
        items.append(f"f{i}")
        for step in draw(st.lists(_STEPS, max_size=4)):
            if step == "store":
                items += [0x80, 0x80, 0x55]  # SSTORE(x, x)
            elif step == "not":
                items.append(0x19)
            elif step == "shr":
                items += [*_push1(1), 28]
            else:
                items += _push1(draw(st.integers(1, 255)))
                items.append({"add": 0x01, "mul": 0x02, "xor": 0x18}[step])
        if i + 1 < nfun and draw(st.booleans()):  # nested call of the next function
            items += [("push", f"n{i}"), 0x90, ("push", f"f{i + 1}"), 0x56, f"n{i}"]
        items += [0x90, 0x56]
    # R: x & 7 levels deep, adding 3 on the way back.
    items += ["R", *_push1(7), 22]
    items += ["Rl", 0x80, 0x15, ("push", "Re"), 0x57]
    items += [*_push1(1), 144, 3, ("push", "Rr"), 144, ("push", "Rl"), 86]
    items += ["Rr", *_push1(3), 1]
    items += ["Re", 0x90, 0x56]
    return assemble_labels(items)
