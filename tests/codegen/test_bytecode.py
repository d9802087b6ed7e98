"""Decoding and JUMPDEST analysis follow the interpreter's reading of code."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evmkiln.codegen.evm.blocks import Exit, analyze
from evmkiln.codegen.evm.bytecode import decode, instruction_pcs, jumpdests


def test_push_data_is_skipped_and_hides_jumpdests() -> None:
    code = bytes.fromhex("615b5b5b")  # PUSH2 0x5b5b ; JUMPDEST
    instrs = decode(code)
    assert [(i.pc, i.name) for i in instrs] == [(0, "PUSH2"), (3, "JUMPDEST")]
    assert instrs[0].immediate == 0x5B5B
    assert jumpdests(instrs) == frozenset({3})


def test_truncated_push_is_right_padded() -> None:
    instrs = decode(bytes.fromhex("62ab"))  # PUSH3 with one byte left
    assert len(instrs) == 1
    assert instrs[0].immediate == 0xAB0000


def test_undefined_opcodes_decode_and_end_blocks() -> None:
    prog = analyze(bytes.fromhex("6001ef6002"))
    assert prog.instrs[1].info is None
    assert prog.instrs[1].name == "UNDEFINED(0xef)"
    assert prog.blocks[0].exit is Exit.HALT
    assert 3 in prog.blocks  # the dead code after it is its own block


def test_stack_requirements_per_block() -> None:
    # ADD needs two items and leaves one; DUP3 then needs three more below: four in all.
    prog = analyze(bytes.fromhex("0182"))
    blk = prog.blocks[0]
    assert (blk.min_height, blk.max_growth, blk.delta) == (4, 0, 0)


def test_static_jump_targets_are_folded_within_the_block() -> None:
    # PUSH1 3 PUSH1 3 ADD JUMP ; JUMPDEST STOP   -> target 6 computed by folding
    prog = analyze(bytes.fromhex("600360030156" + "5b00"))
    assert prog.blocks[0].static_target == 6
    assert prog.blocks[0].successors == [6]
    assert not prog.has_dynamic_jumps


def test_jump_into_push_data_is_a_static_invalid_target() -> None:
    prog = analyze(bytes.fromhex("60035600615b00"))
    assert prog.blocks[0].invalid_static_target


def test_dynamic_jump_detected() -> None:
    prog = analyze(bytes.fromhex("6000355600"))  # CALLDATALOAD-derived target
    assert prog.has_dynamic_jumps
    assert prog.blocks[0].static_target is None


@given(st.binary(max_size=200))
def test_instruction_pcs_are_the_decoded_instructions(code: bytes) -> None:
    assert list(instruction_pcs(code)) == [i.pc for i in decode(code)]


def test_instruction_pcs_skip_push_data() -> None:
    # PUSH2 0x5b5b, JUMPDEST, PUSH32 cut short by the end of the code.
    assert list(instruction_pcs(bytes.fromhex("615b5b 5b 7f01"))) == [0, 3, 4]
