"""Passes, written and checked as IR text."""

from __future__ import annotations

import textwrap

from evmkiln.codegen.ir.parser import parse_function
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.passes.dead_code import DeadCodeElimination


def _ir(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_dead_code_removes_unused_pure_chains_and_keeps_effects() -> None:
    before = _ir("""
        function f {
        b0(v0: i256):
            gas.charge 5
            v1 = const.i256 0x20
            v2 = add v0, v1
            v3 = mul v2, v2
            v4 = mem.access v1, 0x20
            v5 = call calldataload(v0)
            v6 = const.i256 7
            jump b1(v6)
        b1(v7: i256):
            stop
        }
        """)
    after = _ir("""
        function f {
        b0(v0: i256):
            gas.charge 5
            v1 = const.i256 0x20
            v4 = mem.access v1, 0x20
            v5 = call calldataload(v0)
            v6 = const.i256 7
            jump b1(v6)
        b1(v7: i256):
            stop
        }
        """)
    f = parse_function(before)
    verify(f)
    assert DeadCodeElimination().run_pass(f)
    verify(f)
    assert format_function(f) == after
    assert not DeadCodeElimination().run_pass(f)
