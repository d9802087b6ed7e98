"""The clean-up passes that shrink the function after the others: unused block parameters
and duplicate blocks, written and checked as IR text."""

from __future__ import annotations

import textwrap

from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.parser import parse_function
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.passes import Pass
from evmkiln.codegen.passes.deduplicate_blocks import DeduplicateBlocks
from evmkiln.codegen.passes.unused_params import UnusedParams


def _ir(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _run(p: Pass, text: str, changes: bool = True) -> Function:
    f = parse_function(_ir(text))
    verify(f)
    assert p.run_pass(f) is changes
    verify(f)
    assert not p.run_pass(f), "a second run found more"
    return f


def test_unused_params_drop_parameters_nothing_reads_and_their_arguments() -> None:
    before = """
        function f {
        b0(v0: i256):
            v1 = const.i256 1
            v2 = const.i256 2
            jump b1(v0, v1, v2)
        b1(v3: i256, v4: i256, v5: i256):
            v6 = add v3, v3
            v7 = istrue v6
            brif v7, b2(v4, v5), b3(v5)
        b2(v8: i256, v9: i256):
            v10 = const.i256 0
            v11, v12 = mem.region v10, v10
            revert v11, v12
        b3(v13: i256):
            v14 = mem.access v13, 0x20
            v15 = mload v14
            v16 = call sload(v15)
            stop
        }
        """
    after = """
        function f {
        b0(v0: i256):
            v1 = const.i256 1
            v2 = const.i256 2
            jump b1(v0, v2)
        b1(v3: i256, v5: i256):
            v6 = add v3, v3
            v7 = istrue v6
            brif v7, b2(), b3(v5)
        b2:
            v10 = const.i256 0
            v11, v12 = mem.region v10, v10
            revert v11, v12
        b3(v13: i256):
            v14 = mem.access v13, 0x20
            v15 = mload v14
            v16 = call sload(v15)
            stop
        }
        """
    f = _run(UnusedParams(), before)
    assert format_function(f) == _ir(after)


def test_unused_params_drop_a_value_only_carried_around_a_loop() -> None:
    before = """
        function f {
        b0(v0: i256):
            v1 = const.i256 0
            jump b1(v1, v0)
        b1(v2: i256, v3: i256):
            gas.charge 3
            v4 = const.i256 1
            v5 = add v3, v4
            v6 = istrue v5
            brif v6, b1(v2, v5), b2(v2)
        b2(v7: i256):
            stop
        }
        """
    after = """
        function f {
        b0(v0: i256):
            v1 = const.i256 0
            jump b1(v0)
        b1(v3: i256):
            gas.charge 3
            v4 = const.i256 1
            v5 = add v3, v4
            v6 = istrue v5
            brif v6, b1(v5), b2()
        b2:
            stop
        }
        """
    f = _run(UnusedParams(), before)
    assert format_function(f) == _ir(after)


def test_unused_params_keep_entry_and_jump_table_parameters() -> None:
    before = """
        function f {
            jumptable 0x5 -> b1
        b0(v0: i256):
            v1 = const.i64 0
            jump b1(v1)
        b1(v2: i64):
            stop
        }
        """
    f = _run(UnusedParams(), before, changes=False)
    assert format_function(f) == _ir(before)


REVERTS = """
    function f {
    b0(v0: i256):
        v1 = istrue v0
        brif v1, b1(v0), b2(v0)
    b1(v2: i256):
        v3 = const.i256 0
        v4, v5 = mem.region v3, v3
        revert v4, v5
    b2(v6: i256):
        v7 = const.i256 0
        v8, v9 = mem.region v7, v7
        revert v8, v9
    }
    """


def test_deduplicate_blocks_sends_every_edge_to_one_copy() -> None:
    after = """
        function f {
        b0(v0: i256):
            v1 = istrue v0
            brif v1, b1(v0), b1(v0)
        b1(v2: i256):
            v3 = const.i256 0
            v4, v5 = mem.region v3, v3
            revert v4, v5
        }
        """
    f = _run(DeduplicateBlocks(), REVERTS)
    assert format_function(f) == _ir(after)


def test_deduplicate_blocks_tells_apart_operands_immediates_and_targets() -> None:
    before = """
        function f {
        b0(v0: i256, v1: i256):
            v2 = istrue v0
            brif v2, b1(v0, v1), b2(v0, v1)
        b1(v3: i256, v4: i256):
            gas.charge 5
            v5 = sub v3, v4
            jump b5(v5)
        b2(v6: i256, v7: i256):
            gas.charge 5
            v8 = sub v7, v6
            jump b5(v8)
        b3(v9: i256, v10: i256):
            gas.charge 6
            v11 = sub v9, v10
            jump b5(v11)
        b4(v12: i256, v13: i256):
            gas.charge 5
            v14 = sub v12, v13
            jump b6(v14)
        b5(v15: i256):
            stop
        b6(v16: i256):
            return v16, v16
        }
        """
    f = parse_function(_ir(before))
    assert not DeduplicateBlocks().run_pass(f)
    assert format_function(f) == _ir(before)


def test_deduplicate_blocks_merges_predecessors_once_their_successors_are_one() -> None:
    before = """
        function f {
        b0(v0: i256):
            v1 = istrue v0
            brif v1, b1(), b2()
        b1:
            gas.charge 2
            jump b3()
        b2:
            gas.charge 2
            jump b4()
        b3:
            stop
        b4:
            stop
        }
        """
    after = """
        function f {
        b0(v0: i256):
            v1 = istrue v0
            brif v1, b1(), b1()
        b1:
            gas.charge 2
            jump b3()
        b3:
            stop
        }
        """
    f = _run(DeduplicateBlocks(), before)
    assert format_function(f) == _ir(after)


def test_deduplicate_blocks_keep_jump_table_destinations() -> None:
    before = """
        function f {
            jumptable 0x5 -> b1, 0x9 -> b2
        b0(v0: i256):
            v1 = const.i64 0
            v2 = const.i256 5
            djump v2, v1
        b1(v3: i64):
            stop
        b2(v4: i64):
            stop
        }
        """
    f = _run(DeduplicateBlocks(), before, changes=False)
    assert format_function(f) == _ir(before)
