"""Structural properties of lowered IR."""

from __future__ import annotations

import pytest

from evmkiln.codegen.ir.function import Block, Function, Inst
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.ir.types import Type
from evmkiln.codegen.ir.verifier import VerifierError, verify
from evmkiln.codegen.pipeline import lower_bytecode


def _opcodes(f: Function) -> list[str]:
    return [i.opcode for b in f.blocks for i in [*b.insts, b.term] if i is not None]


def test_straight_line_stack_is_ssa_only() -> None:
    f = lower_bytecode(bytes.fromhex("6001600201600302" + "00"), opt_level=0)
    ops = _opcodes(f)
    assert "stack.load" not in ops and "stack.store" not in ops
    # Constants are folded: (1 + 2) * 3 computed at compile time.
    assert "add" not in ops and "mul" not in ops
    assert "const.i256 9" in format_function(f)
    # The folded result is unused (STOP follows), so dead-code elimination drops it.
    assert "const.i256 9" not in format_function(
        lower_bytecode(bytes.fromhex("600160020160030200"))
    )


def test_static_gas_is_one_charge_per_segment() -> None:
    # PUSH1 PUSH1 ADD POP GAS POP STOP: GAS observes gas, so two segments.
    f = lower_bytecode(bytes.fromhex("600160020150" + "5a50" + "00"))
    charges = [i.imms[0] for b in f.blocks for i in b.insts if i.opcode == "gas.charge"]
    assert charges == [3 + 3 + 3 + 2 + 2, 2]


def test_static_jump_becomes_direct_branch() -> None:
    f = lower_bytecode(bytes.fromhex("6004565b" + "5b00"))
    assert "djump" not in _opcodes(f)
    assert not f.jump_table


def test_dynamic_jump_uses_jump_table_with_sp_param() -> None:
    f = lower_bytecode(bytes.fromhex("600035565b00"))
    assert "djump" in _opcodes(f)
    assert set(f.jump_table) == {4}
    assert [p.type for p in f.jump_table[4].params] == [Type.I64]


def test_known_height_blocks_pass_stack_as_parameters() -> None:
    # PUSH1 7 PUSH1 1 PUSH1 8 JUMPI ; STOP ; JUMPDEST(8) POP STOP
    f = lower_bytecode(bytes.fromhex("6007600160085700" + "5b5000"), opt_level=0)
    k8 = next(b for b in f.blocks if b.name == "k8")
    assert [p.type for p in k8.params] == [Type.I256]


def test_static_underflow_halts_at_block_entry() -> None:
    f = lower_bytecode(bytes.fromhex("01"))
    assert f.entry.term is not None and f.entry.term.opcode == "halt"


def test_verifier_names_block_and_instruction() -> None:
    f = Function("bad")
    blk = f.new_block("entry")
    v = f.new_value(Type.I64)
    blk.insts.append(Inst("add", [v, v], [f.new_value(Type.I256)]))
    blk.term = Inst("stop", [])
    with pytest.raises(VerifierError, match=r"entry: .*add v0, v0.*not defined"):
        verify(f)


def test_verifier_rejects_type_mismatch_and_missing_terminator() -> None:
    f = Function("bad")
    blk = f.new_block("entry", [Type.I64])
    blk.insts.append(Inst("add", [blk.params[0], blk.params[0]], [f.new_value(Type.I256)]))
    blk.term = Inst("stop", [])
    with pytest.raises(VerifierError, match="operand types"):
        verify(f)
    g = Function("bad2")
    g.blocks.append(Block("only"))
    with pytest.raises(VerifierError, match="no terminator"):
        verify(g)


def test_printer_is_stable() -> None:
    code = bytes.fromhex("6080604052600035600757005b600080fd")
    assert format_function(lower_bytecode(code)) == format_function(lower_bytecode(code))
