"""Which plan lowering follows: the resolved plan where it pays, the direct plan otherwise.

Programs are written with labels as in ``test_jump_resolution.py``: ``("push",
"f")`` is a PUSH2 of label ``f``'s pc and a label name is a JUMPDEST.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest
from bytecode_gen import Asm, assemble_labels, internal_call_programs
from eth.vm.forks.cancun import CancunVM
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.codegen import budget
from evmkiln.codegen.evm.blocks import analyze
from evmkiln.codegen.evm.jump_analysis import MAX_HEIGHTS_PER_BLOCK
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.lowering import versions
from evmkiln.codegen.lowering.lower import lower_program
from evmkiln.codegen.lowering.versions import (
    DIRECT,
    RESOLVED,
    PlanChoice,
    choose_plan,
    direct_plan,
    plan_versions,
)
from evmkiln.codegen.passes import run_passes
from evmkiln.codegen.pipeline import function_name, lower_bytecode
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

ADD, SWAP1, JUMP, SSTORE, STOP, POP, PUSH0, CALLDATALOAD = (
    0x01, 0x90, 0x56, 0x55, 0x00, 0x50, 0x5F, 0x35,
)  # fmt: skip

# f: [ret, x] -> x + 1, returning through the stack as solc does.
FUNCTION: Asm = ["f", 0x60, 1, ADD, SWAP1, JUMP]


def _call(ret: str, arg: int, slot: int, pad: int = 0) -> Asm:
    """With ``pad`` slots below, call f on ``arg`` and store its result at ``slot``."""
    return [
        *[PUSH0] * pad,
        ("push", ret),
        0x60,
        arg,
        ("push", "f"),
        JUMP,
        ret,
        0x60,
        slot,
        SSTORE,
        *[POP] * pad,
    ]


def _calls_at_heights(heights: int) -> bytes:
    """f called once at each of ``heights`` different stack heights."""
    calls: Asm = []
    for i in range(heights):
        calls += _call(f"r{i}", i, i, pad=i)
    return assemble_labels([*calls, STOP, *FUNCTION])


TWO_CALLS = assemble_labels([*_call("r1", 5, 0), *_call("r2", 6, 1), STOP, *FUNCTION])
"""f called from two sites at one height: every jump resolves."""

THREE_HEIGHTS = _calls_at_heights(3)
"""f called at three heights: three copies of f, every jump resolved."""

MANY_HEIGHTS = _calls_at_heights(MAX_HEIGHTS_PER_BLOCK + 4)
"""f called at more heights than the analysis keeps apart: the further calls
escape to f's dynamic version, whose return is unresolved."""

CALLDATA_RETURN = assemble_labels(
    [PUSH0, CALLDATALOAD, 0x60, 5, ("push", "f"), JUMP, "r", STOP, *FUNCTION]
)
"""f returns to an address from calldata: unresolved, the jump table stays."""


def _choice(code: bytes) -> PlanChoice:
    choices: list[PlanChoice] = []
    lower_bytecode(code, on_plan=choices.append)
    assert len(choices) == 1
    return choices[0]


@pytest.mark.parametrize("code", [TWO_CALLS, THREE_HEIGHTS], ids=["two_calls", "three_heights"])
def test_programs_whose_jumps_all_resolve_keep_the_resolved_plan(code: bytes) -> None:
    choice = _choice(code)
    assert choice.kind == RESOLVED, choice
    assert choice.plan.dynamic_count() == 0 and not choice.plan.uses_jump_table
    assert "every jump resolved" in choice.reason
    f = lower_bytecode(code)
    assert not f.jump_table
    assert all(b.name[0] != "d" for b in f.blocks)


def test_helper_called_at_more_than_sixteen_heights_gets_the_direct_plan() -> None:
    prog = analyze(MANY_HEIGHTS)
    resolved = plan_versions(prog)
    assert resolved.uses_jump_table and resolved.dynamic_count() > 0
    heights = resolved.facts.heights[MANY_HEIGHTS.index(bytes([0x5B, 0x60, 1, ADD]))]
    assert len(heights) == MAX_HEIGHTS_PER_BLOCK
    choice = _choice(MANY_HEIGHTS)
    assert choice.kind == DIRECT, choice
    assert choice.resolved_versions == len(resolved.versions)
    assert choice.direct_versions == len(direct_plan(prog).versions)
    assert choice.resolved_versions > choice.direct_versions
    assert "dynamic versions" in choice.reason
    assert max(len(hs) for hs in choice.plan.facts.heights.values()) == 1
    assert lower_bytecode(MANY_HEIGHTS).jump_table


def test_the_rule_follows_its_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    """THREE_HEIGHTS has more versions than its direct plan: kept only within the margin."""
    prog = analyze(THREE_HEIGHTS)
    choice = choose_plan(prog)
    assert choice.direct_versions < choice.resolved_versions
    assert choice.resolved_versions <= versions.GROWTH_WITHOUT_DYNAMIC * choice.direct_versions
    monkeypatch.setattr(versions, "GROWTH_WITHOUT_DYNAMIC", 1.0)
    assert choose_plan(prog).kind == DIRECT
    # A plan with dynamic versions is kept when it is no larger than the direct plan.
    monkeypatch.setattr(versions, "GROWTH_WITH_DYNAMIC", 100.0)
    assert choose_plan(analyze(MANY_HEIGHTS)).kind == RESOLVED


def test_calldata_return_keeps_a_plan_no_larger_than_the_direct_one() -> None:
    choice = _choice(CALLDATA_RETURN)
    assert choice.plan.uses_jump_table
    assert choice.kind == RESOLVED and choice.resolved_versions <= choice.direct_versions


def test_work_cap_reports_the_direct_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from evmkiln.codegen.evm import jump_analysis

    monkeypatch.setattr(jump_analysis, "WORK_BASE", 0)
    monkeypatch.setattr(jump_analysis, "WORK_PER_INSTRUCTION", 0)
    choice = _choice(TWO_CALLS)
    assert choice.kind == DIRECT and "work cap" in choice.reason
    assert choice.plan.versions == direct_plan(analyze(TWO_CALLS)).versions


def test_resolved_plan_over_budget_falls_back_to_the_direct_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """THREE_HEIGHTS keeps its resolved plan, larger than the direct one: a budget
    between the two takes the direct plan rather than refusing the code."""
    choice = choose_plan(analyze(THREE_HEIGHTS))
    assert choice.kind == RESOLVED and choice.direct_versions < choice.resolved_versions

    def fits(plan: versions.VersionPlan, code_length: int) -> bool:
        return len(plan.versions) <= choice.direct_versions

    monkeypatch.setattr(budget, "plan_fits", fits)
    over = _choice(THREE_HEIGHTS)
    assert over.kind == DIRECT and "over the compile budget" in over.reason
    assert len(over.plan.versions) == choice.direct_versions


def _lower_with(kind: str, code: bytes) -> Function:
    """``lower_bytecode`` with the plan of ``kind`` whatever the rule says."""
    prog = analyze(code)
    plan = plan_versions(prog) if kind == RESOLVED else direct_plan(prog)
    function = lower_program(prog, function_name(code), plan)
    run_passes(function, 1)
    verify(function)
    return function


PROGRAMS = {
    "two_calls": TWO_CALLS,
    "three_heights": THREE_HEIGHTS,
    "many_heights": MANY_HEIGHTS,
    "calldata_return": CALLDATA_RETURN,
}
DATA = [b"", (8).to_bytes(32, "big"), (9).to_bytes(32, "big")]


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize("plan", ["chosen", RESOLVED, DIRECT])
def test_either_plan_runs_like_pyevm(backend: str, plan: str) -> None:
    """The plan the rule picks, and each plan forced: every outcome as on py-evm."""
    lowering = {} if plan == "chosen" else {"lower": functools.partial(_lower_with, plan)}
    vm = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun", **lowering)
    for name, code in PROGRAMS.items():
        for data in DATA:
            codes = {CONTRACT_A: code}
            expected = execute(CancunVM, codes, data=data)
            assert execute(vm, codes, data=data) == expected, (name, data.hex())
    assert vm.stats.frames_compiled == len(PROGRAMS)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ir_vms() -> dict[str, Any]:
    """An IR-backend VM class per plan, each forcing its plan."""
    return {
        kind: make_vm_class(
            backend="ir",
            interpret_on_compile_error=False,
            fork="cancun",
            lower=functools.partial(_lower_with, kind),
        )
        for kind in (RESOLVED, DIRECT)
    }


@settings(max_examples=60)
@given(
    code=internal_call_programs(),
    data=st.binary(max_size=36),
    value=st.sampled_from([0, 1]),
)
def test_generated_internal_calls_run_alike_on_both_plans(
    ir_vms: dict[str, Any], code: bytes, data: bytes, value: int
) -> None:
    """Calls and returns through the stack, recursion, bad and runtime return
    addresses: the same outcome as py-evm with either plan."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
    codes = {CONTRACT_A: code}
    expected = execute(CancunVM, codes, data=data, value=value, gas=300_000)
    for kind, vm in ir_vms.items():
        actual = execute(vm, codes, data=data, value=value, gas=300_000)
        assert actual == expected, (kind, code.hex())
