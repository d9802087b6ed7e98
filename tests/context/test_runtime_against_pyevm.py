"""Background compilation never changes results: generated programs, compiles racing frames.

Each example runs the same transaction several times on a VM class whose
runtime promotes code at its first frame and compiles it in the background,
so the frames of one run meet the code on whatever tier the race has
reached (interpreted, fast tier, optimising tier; a caller and its callee on
different tiers).  Every run must equal stock py-evm's.  A last run after
``wait_idle`` makes sure the compiled tiers were exercised too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from bytecode_gen import assemble, programs
from eth.vm.forks.cancun import CancunVM
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import RuntimePolicy, Threshold, make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

RACING = RuntimePolicy(
    thresholds=(Threshold(calls=1, gas=None), Threshold(calls=2, gas=None)), workers=2
)
"""Promote at the first frame, and to the optimising tier at the second."""


@pytest.fixture(scope="module", params=["ir", "wasm", "llvm"])
def racing_vm(request: pytest.FixtureRequest) -> Iterator[Any]:
    vm = make_vm_class(request.param, runtime=RACING, fork="cancun", replay_inexact_halts=False)
    yield vm
    vm.code_cache.close()


@settings(max_examples=40)
@given(
    a=programs,
    b=programs,
    gas=st.integers(min_value=25_000, max_value=300_000),
    data=st.binary(max_size=68),
    runs=st.integers(min_value=1, max_value=4),
)
def test_programs_match_pyevm_while_compiles_race(
    racing_vm: Any,
    a: list[tuple[str, int]],
    b: list[tuple[str, int]],
    gas: int,
    data: bytes,
    runs: int,
) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
    codes = {CONTRACT_A: assemble(a, CONTRACT_B), CONTRACT_B: assemble(b, CONTRACT_A)}
    expected = execute(CancunVM, codes, data=data, gas=gas)
    for _ in range(runs):
        assert execute(racing_vm, codes, data=data, gas=gas) == expected, codes
    assert racing_vm.code_cache.wait_idle(60)
    assert execute(racing_vm, codes, data=data, gas=gas) == expected, codes
    assert racing_vm.stats.compile_failures == 0, racing_vm.stats.failures


# B returns the word 1; A calls B with all its gas and stops.
CALLEE = bytes.fromhex("600160005260206000f3")
CALLER = bytes.fromhex("5f5f5f5f5f73") + CONTRACT_B + bytes.fromhex("5af100")


def test_the_races_reached_every_tier(racing_vm: Any) -> None:
    """Every tier ran frames, and the results stayed py-evm's on each.

    A fixed caller and callee, run with the compiles settled in between, so
    that this holds whatever ran before on the module's VM class (or on
    another worker).
    """
    codes = {CONTRACT_A: CALLER, CONTRACT_B: CALLEE}
    expected = execute(CancunVM, codes, data=b"", gas=100_000)
    for _ in range(3):
        assert execute(racing_vm, codes, data=b"", gas=100_000) == expected
        assert racing_vm.code_cache.wait_idle(60)
    stats = racing_vm.code_cache.snapshot()
    assert stats.done > 0
    assert all(hits > 0 for hits in stats.hits), stats
