"""The compile budget: its limits, where the pipeline checks them, and real code within them."""

from __future__ import annotations

from pathlib import Path

import pytest

from evmkiln.codegen import budget
from evmkiln.codegen.budget import CompileBudgetExceeded, CompileRefused, IrSize, Limit
from evmkiln.codegen.pipeline import lower_bytecode


def test_a_limit_grows_with_code_length_up_to_its_cap() -> None:
    limit = Limit("things", base=100, per_byte=2, cap=1000)
    assert [limit.for_code(n) for n in (0, 10, 450, 10_000)] == [100, 120, 1000, 1000]
    limit.check(120, 10)
    with pytest.raises(CompileBudgetExceeded, match="121 things for 10 bytes of code") as raised:
        limit.check(121, 10)
    assert isinstance(raised.value, CompileRefused)
    assert (raised.value.size, raised.value.limit) == (121, 120)


def test_longer_code_gets_no_more_than_the_caps() -> None:
    for limit in budget.LIMITS:
        assert limit.for_code(budget.DEPLOYED_CODE_LIMIT) <= limit.cap
        assert limit.for_code(budget.MAX_CODE_BYTES) == limit.cap


def test_code_too_long_is_refused_before_decoding() -> None:
    with pytest.raises(CompileBudgetExceeded, match="bytes of code"):
        lower_bytecode(b"\x00" * (budget.MAX_CODE_BYTES + 1))


def test_a_deep_stack_through_many_blocks_is_refused_before_lowering() -> None:
    code = b"\x5f" * 64 + b"\x5b" * 4000
    with pytest.raises(CompileBudgetExceeded, match="block parameters") as raised:
        lower_bytecode(code)
    # The plan already carries 64 parameters into each of 4,000 blocks.
    assert raised.value.size >= 64 * 4000
    size = IrSize.of(lower_bytecode(code, within_budget=False, opt_level=0))
    assert size.edge_values > raised.value.limit and size.blocks >= 4000


def test_a_run_of_jumpdests_is_within_budget() -> None:
    """stQuadraticComplexityTest's shape: a block per byte, which real tests compile."""
    code = b"\x60\x01" + b"\x5b" * 22_243
    # The budget measures lowering's output, before the passes.
    size = budget.check_function(lower_bytecode(code, opt_level=0), len(code))
    assert size.blocks == 22_244 and size.instructions <= 2 * len(code)  # and pc 0
    # Each JUMPDEST is entered only by falling through from the one before: merged.
    assert len(lower_bytecode(code).blocks) == 1


def _codes_of(path: Path) -> list[bytes]:
    from evmkiln.fixtures.loading import FixtureError, load_bench_file, load_state_test_file

    try:
        pres = [test.pre for test in load_state_test_file(path).root.values()]
    except FixtureError:
        pres = [load_bench_file(path).fixture.pre]
    return [bytes(account.code) for pre in pres for account in pre.values() if account.code]


def test_real_contracts_lower_and_translate_within_budget(fixtures_root: Path) -> None:
    """Every bench contract, and state-test pre-state contracts (every 16th file, the
    quadratic-complexity tests and the largest codes), pass every budget check."""
    from evmkiln.backend_llvm.translate import translate as llvm_translate
    from evmkiln.backend_wasm.translate import translate as wasm_translate
    from evmkiln.codegen.backend import CompileOptions

    state_tests = sorted((fixtures_root / "statetests").rglob("*.json"))
    files = sorted((fixtures_root / "bench").glob("*.json"))
    files += state_tests[::16]
    files += [p for p in state_tests if "Quadratic" in str(p) or "bytesContract" in p.name]
    codes = {code for path in files for code in _codes_of(path)}
    assert len(codes) > 150
    for code in codes:
        function = lower_bytecode(code)
        llvm_translate(function, CompileOptions())
        wasm_translate(function)
