"""Jump resolution (evm/jump_analysis.py) and how lowering uses it, by IR text.

Programs are written with labels: ``("push", "f")`` is a PUSH2 of label
``f``'s pc and a label name is a JUMPDEST.
"""

from __future__ import annotations

import pytest
from bytecode_gen import Asm, assemble_labels
from eth.vm.forks.cancun import CancunVM

from evmkiln.codegen.evm import jump_analysis
from evmkiln.codegen.evm.blocks import analyze
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.lowering.versions import plan_versions
from evmkiln.codegen.passes.dead_code import DeadCodeElimination
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

ADD, SWAP1, JUMP, JUMPI, SSTORE, STOP, POP, PUSH0, CALLDATALOAD = (
    0x01, 0x90, 0x56, 0x57, 0x55, 0x00, 0x50, 0x5F, 0x35,
)  # fmt: skip

# f: [ret, x] -> x + 1, returning through the stack as solc does.
FUNCTION: Asm = ["f", 0x60, 1, ADD, SWAP1, JUMP]


def _call(ret: str, arg: int, slot: int) -> Asm:
    """Push a return address and an argument, jump to f; store its result at ``slot``."""
    return [("push", ret), 0x60, arg, ("push", "f"), JUMP, ret, 0x60, slot, SSTORE]


def _ir(code: bytes) -> str:
    """Lowering's own output, with only its dead constants removed (no folding)."""
    function = lower_bytecode(code, name="t", opt_level=0)
    DeadCodeElimination().run_pass(function)
    return format_function(function)


def test_call_and_return_become_direct_edges_at_known_heights() -> None:
    code = assemble_labels([*_call("r", 5, 0), STOP, *FUNCTION])
    assert _ir(code) == (
        "function t {\n"
        "k0:\n"
        "    gas.charge 0x11\n"
        "    v3 = const.i256 9\n"
        "    v4 = const.i256 5\n"
        "    jump ke(v3, v4)\n"
        "ke(v0: i256, v1: i256):\n"
        "    gas.charge 0x12\n"
        "    v6 = const.i256 1\n"
        "    v7 = add v6, v1\n"
        "    jump k9(v7)\n"
        "k9(v2: i256):\n"
        "    gas.charge 4\n"
        "    v8 = const.i256 0\n"
        "    call sstore(v8, v2)\n"
        "    stop\n"
        "}\n"
    )


def test_after_the_passes_a_resolved_call_folds_to_its_result() -> None:
    """The return address and the argument travel as constants through the resolved
    edges; the passes fold f's body, merge the three blocks and their charges
    (0x11 + 0x12 + 4: nothing observes the gas before the SSTORE, whose own
    gas is in the last), and leave only the store of 5 + 1."""
    code = assemble_labels([*_call("r", 5, 0), STOP, *FUNCTION])
    assert format_function(lower_bytecode(code, name="t")) == (
        "function t {\n"
        "k0:\n"
        "    gas.charge 0x27\n"
        "    v11 = const.i256 6\n"
        "    v8 = const.i256 0\n"
        "    call sstore(v8, v11)\n"
        "    stop\n"
        "}\n"
    )


def test_function_called_from_two_sites_returns_through_a_two_way_switch() -> None:
    code = assemble_labels([*_call("r1", 5, 0), *_call("r2", 6, 1), STOP, *FUNCTION])
    facts = plan_versions(analyze(code)).facts
    assert facts.heights[0x1B] == [2]
    assert facts.targets[(0x1B, 2)] == {0x09, 0x16}
    # One compare against the first return site; the other needs none.
    assert _ir(code) == (
        "function t {\n"
        "k0:\n"
        "    gas.charge 0x11\n"
        "    v4 = const.i256 9\n"
        "    v5 = const.i256 5\n"
        "    jump k1b(v4, v5)\n"
        "k1b(v0: i256, v1: i256):\n"
        "    gas.charge 0x12\n"
        "    v7 = const.i256 1\n"
        "    v8 = add v7, v1\n"
        "    v9 = const.i256 9\n"
        "    v10 = eq v0, v9\n"
        "    v11 = istrue v10\n"
        "    brif v11, k9(v8), k16(v8)\n"
        "k9(v2: i256):\n"
        "    gas.charge 4\n"
        "    v12 = const.i256 0\n"
        "    call sstore(v12, v2)\n"
        "    gas.charge 0x11\n"
        "    v13 = const.i256 0x16\n"
        "    v14 = const.i256 6\n"
        "    jump k1b(v13, v14)\n"
        "k16(v3: i256):\n"
        "    gas.charge 4\n"
        "    v16 = const.i256 1\n"
        "    call sstore(v16, v3)\n"
        "    stop\n"
        "}\n"
    )


def test_calls_at_different_heights_get_a_version_per_height() -> None:
    code = assemble_labels([*_call("r1", 5, 0), PUSH0, *_call("r2", 6, 1), POP, STOP, *FUNCTION])
    ir = _ir(code)
    f_label = f"k{code.index(bytes([0x5B, 0x60, 1, ADD])):x}"
    assert f"{f_label}(v" in ir and f"{f_label}_3(v" in ir
    assert "brif" not in ir and "djump" not in ir


def test_constant_return_address_that_is_no_jumpdest_halts_as_a_bad_jump() -> None:
    code = assemble_labels([0x60, 2, 0x60, 5, ("push", "f"), JUMP, STOP, *FUNCTION])
    assert _ir(code) == (
        "function t {\n"
        "k0:\n"
        "    gas.charge 0x11\n"
        "    v2 = const.i256 2\n"
        "    v3 = const.i256 5\n"
        "    jump k9(v2, v3)\n"
        "k9(v0: i256, v1: i256):\n"
        "    gas.charge 0x12\n"
        "    jump halt_invalid_jump()\n"
        "halt_invalid_jump:\n"
        "    halt 5\n"
        "}\n"
    )


def test_return_address_from_calldata_stays_in_the_jump_table() -> None:
    code = assemble_labels(
        [PUSH0, CALLDATALOAD, 0x60, 5, ("push", "f"), JUMP, "r", STOP, *FUNCTION]
    )
    plan = plan_versions(analyze(code))
    assert plan.uses_jump_table and plan.facts.unresolved
    f = lower_bytecode(code)
    assert set(f.jump_table) == {8, 10}


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize("dest", [8, 9, 3, 1 << 200])
def test_dynamic_return_halts_like_pyevm(backend: str, dest: int) -> None:
    """Calldata chooses the return address: a JUMPDEST (8), a STOP (9), PUSH data (3), huge."""
    code = assemble_labels(
        [PUSH0, CALLDATALOAD, 0x60, 5, ("push", "f"), JUMP, "r", STOP, *FUNCTION]
    )
    vm = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    data = dest.to_bytes(32, "big")
    codes = {CONTRACT_A: code}
    assert execute(vm, codes, data=data, gas=100_000) == execute(
        CancunVM, codes, data=data, gas=100_000
    )


def test_work_cap_falls_back_to_direct_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    code = assemble_labels([*_call("r1", 5, 0), *_call("r2", 6, 1), STOP, *FUNCTION])
    monkeypatch.setattr(jump_analysis, "WORK_BASE", 0)
    monkeypatch.setattr(jump_analysis, "WORK_PER_INSTRUCTION", 0)
    plan = plan_versions(analyze(code))
    assert not plan.facts.complete and not plan.facts.targets
    assert plan.uses_jump_table
    assert "djump" in _ir(code)


def test_analysis_is_bounded_on_many_return_sites() -> None:
    """Thousands of call sites of one function, at one height (its return stays
    unresolved) or each one slot deeper (past 32 heights the calls escape to the
    dynamic version): either way, a few steps of work per instruction."""
    from evmkiln.bench.hostile_codes import hostile_code

    prog = analyze(hostile_code("return_calls", 24_576))
    facts = jump_analysis.analyze_jumps(prog)
    assert facts.complete and facts.unresolved
    assert facts.work < 10 * len(prog.instrs)

    prog = analyze(hostile_code("stacked_calls", 24_576))
    facts = jump_analysis.analyze_jumps(prog)
    assert facts.complete
    assert max(map(len, facts.heights.values())) == jump_analysis.MAX_HEIGHTS_PER_BLOCK
    assert facts.work < 10 * len(prog.instrs)
    assert plan_versions(prog, facts).uses_jump_table
