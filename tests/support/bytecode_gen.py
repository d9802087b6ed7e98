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

__all__ = ["Snippet", "assemble", "programs", "snippet", "words"]

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
