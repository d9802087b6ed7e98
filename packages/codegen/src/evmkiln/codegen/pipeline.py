"""The compiler pipeline from bytecode to verified IR, in one place."""

from __future__ import annotations

from collections.abc import Callable

from eth_hash.auto import keccak

from evmkiln.codegen import budget
from evmkiln.codegen.evm.blocks import analyze
from evmkiln.codegen.gc_pause import gc_paused
from evmkiln.codegen.ir.function import Function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.lowering.lower import lower_program
from evmkiln.codegen.lowering.versions import DIRECT, PlanChoice, choose_plan
from evmkiln.codegen.passes import run_passes


def function_name(code: bytes) -> str:
    return f"evm_{keccak(code).hex()[:16]}"


def lower_bytecode(
    code: bytes,
    *,
    name: str | None = None,
    check: bool = True,
    opt_level: int = 1,
    within_budget: bool = True,
    fork: str = "cancun",
    on_plan: Callable[[PlanChoice], None] | None = None,
) -> Function:
    """Analyse and lower ``code`` into an IR function, run the level's passes, verify.

    ``fork`` chooses the opcode table the code is decoded with.

    Lowering follows the plan :func:`~evmkiln.codegen.lowering.versions.choose_plan`
    picks: with jumps resolved where that keeps the IR small, without
    otherwise.  ``on_plan``, if given, is told the choice.

    Unless ``check`` is off, the verifier runs on the result: after the passes,
    or right after lowering when no pass runs.  (Passes only delete
    instructions whose results are unused, so whatever reaches a backend has
    been verified either way; verifying twice cost a sixth of the lowering.)

    Unless ``within_budget`` is off, code whose IR would exceed its compile
    budget raises :class:`~evmkiln.codegen.budget.CompileBudgetExceeded`:
    checked on the code's length, on the planned block versions and on the
    lowered function, each before the work it bounds.  A resolved plan over
    budget is replaced by the direct plan (one known height per block, every
    other jump through the jump table) before the code is refused.
    """
    if within_budget:
        budget.check_code(len(code))
    with gc_paused():
        program = analyze(code, fork)
        choice = choose_plan(program)
        if within_budget and not budget.plan_fits(choice.plan, len(code)):
            if choice.kind != DIRECT:
                # Resolved jumps can multiply the versions of a block (one per
                # height); fall back to direct edges and the jump table before
                # refusing the code.
                choice = choice.over_budget(program)
            budget.check_plan(choice.plan, len(code))
        if on_plan is not None:
            on_plan(choice)
        function = lower_program(program, name or function_name(code), choice.plan)
        if within_budget:
            budget.check_function(function, len(code))
        if opt_level > 0:
            run_passes(function, opt_level)
        if check:
            verify(function)
    return function
