"""Passes, written and checked as IR text."""

from __future__ import annotations

import textwrap

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.parser import parse_function
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.passes import Pass
from evmkiln.codegen.passes.constant_folding import ConstantFolding
from evmkiln.codegen.passes.constant_params import ConstantParams
from evmkiln.codegen.passes.dead_code import DeadCodeElimination
from evmkiln.codegen.passes.gas_segments import GasSegments
from evmkiln.codegen.passes.merge_blocks import MergeBlocks
from evmkiln.codegen.passes.unreachable_blocks import UnreachableBlocks


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


def _run(pass_: Pass, before: str) -> Function:
    f = parse_function(_ir(before))
    verify(f)
    pass_.run_pass(f)
    verify(f)
    return f


def test_constant_params_replace_a_parameter_every_edge_passes_the_same_constant() -> None:
    # b3's first parameter is 7 on both edges (and through the loop on itself);
    # its second differs between the edges and stays.
    before = """
        function f {
        b0(v0: i256):
            v1 = const.i256 7
            v2 = const.i256 1
            v3 = istrue v0
            brif v3, b1(v1), b2(v1)
        b1(v4: i256):
            v5 = const.i256 2
            jump b3(v4, v5)
        b2(v6: i256):
            v7 = const.i256 3
            jump b3(v6, v7)
        b3(v8: i256, v9: i256):
            v10 = istrue v9
            brif v10, b3(v8, v9), b4()
        b4:
            stop
        }
        """
    after = _ir("""
        function f {
        b0(v0: i256):
            v1 = const.i256 7
            v2 = const.i256 1
            v3 = istrue v0
            brif v3, b1(), b2()
        b1:
            v11 = const.i256 7
            v5 = const.i256 2
            jump b3(v5)
        b2:
            v12 = const.i256 7
            v7 = const.i256 3
            jump b3(v7)
        b3(v9: i256):
            v13 = const.i256 7
            v10 = istrue v9
            brif v10, b3(v9), b4()
        b4:
            stop
        }
        """)
    f = _run(ConstantParams(), before)
    assert format_function(f) == after
    assert not ConstantParams().run_pass(f)


def test_constant_params_leave_entry_and_jump_table_blocks_alone() -> None:
    before = """
        function f {
            jumptable 0x5 -> b1
        b0(v0: i256):
            v1 = const.i64 0
            jump b1(v1)
        b1(v2: i64):
            v3 = const.i256 5
            djump v3, v2
        }
        """
    f = _run(ConstantParams(), before)
    assert format_function(f) == _ir(before)


def test_constant_folding_folds_pure_operations_and_branches_but_keeps_effects() -> None:
    before = """
        function f {
        b0:
            v0 = const.i256 6
            v1 = const.i256 7
            v2 = mul v0, v1
            v3 = bytelen v2
            v4 = const.i64 50
            v5 = imul v3, v4
            gas.charge_dyn v5
            v6 = mem.access v2, 0x20
            v7 = eq v2, v1
            v8 = istrue v7
            brif v8, b1(), b2()
        b1:
            stop
        b2:
            stop
        }
        """
    after = _ir("""
        function f {
        b0:
            v0 = const.i256 6
            v1 = const.i256 7
            v2 = const.i256 0x2a
            v3 = const.i64 1
            v4 = const.i64 0x32
            v5 = const.i64 0x32
            gas.charge_dyn v5
            v6 = mem.access v2, 0x20
            v7 = const.i256 0
            v8 = istrue v7
            jump b2()
        b1:
            stop
        b2:
            stop
        }
        """)
    f = _run(ConstantFolding(), before)
    assert format_function(f) == after
    assert not ConstantFolding().run_pass(f)


def test_unreachable_blocks_are_removed() -> None:
    before = """
        function f {
            jumptable 0x09 -> b3
        b0:
            jump b2()
        b1:
            jump b2()
        b2:
            stop
        b3(v0: i64):
            stop
        }
        """
    f = _run(UnreachableBlocks(), before)
    assert [b.name for b in f.blocks] == ["b0", "b2", "b3"]
    assert not UnreachableBlocks().run_pass(f)


def test_merge_blocks_joins_a_block_its_only_jump_enters() -> None:
    # b1 is entered only by b0's jump: merged, its parameter becomes b0's argument.
    # b2 has two ways in and b3 is a jump-table destination: both stay.
    before = """
        function f {
            jumptable 0x9 -> b3
        b0(v0: i256):
            gas.charge 3
            v1 = const.i256 1
            jump b1(v1, v0)
        b1(v2: i256, v7: i256):
            gas.charge 5
            v3 = add v7, v2
            v4 = istrue v3
            brif v4, b2(), b2()
        b2:
            v5 = const.i64 0
            jump b3(v5)
        b3(v6: i64):
            stop
        }
        """
    after = _ir("""
        function f {
            jumptable 0x9 -> b3
        b0(v0: i256):
            gas.charge 3
            v1 = const.i256 1
            gas.charge 5
            v3 = add v0, v1
            v4 = istrue v3
            brif v4, b2(), b2()
        b2:
            v5 = const.i64 0
            jump b3(v5)
        b3(v6: i64):
            stop
        }
        """)
    f = _run(MergeBlocks(), before)
    assert format_function(f) == after
    assert not MergeBlocks().run_pass(f)


def test_gas_segments_merge_charges_up_to_an_observer() -> None:
    before = """
        function f {
        b0(v0: i256):
            gas.charge 3
            v1 = mem.access v0, 0x20
            gas.charge 5
            v2 = gas.left
            gas.charge 2
            v3 = call calldataload(v0)
            gas.charge 7
            v4 = zext v2
            call sstore(v4, v3)
            gas.charge 0xb
            stop
        }
        """
    # gas.left reads the gas: the charges before it are one, the one after it stays
    # after it.  sstore observes the gas too; calldataload does not.
    after = _ir("""
        function f {
        b0(v0: i256):
            gas.charge 8
            v1 = mem.access v0, 0x20
            v2 = gas.left
            gas.charge 9
            v3 = call calldataload(v0)
            v4 = zext v2
            call sstore(v4, v3)
            gas.charge 0xb
            stop
        }
        """)
    f = _run(GasSegments(), before)
    assert format_function(f) == after
    assert not GasSegments().run_pass(f)
