"""With inexact halts replayed (out of gas too), a failed transaction carries py-evm's own error.

Generated programs (the fuzzer's families: internal calls, jump tables,
stack errors, bad jumps, INVALIDs, ...) run on stock py-evm and on a VM class
with its defaults.  Everything observable must match, and the top frame's
exception class and text too, out of gas included: its amounts are the
interpreter's position in the frame, and charging a segment's static gas at
once (docs/gas.md) may run out of gas where the interpreter halted otherwise
later in the segment, so a top frame that ran out of gas is replayed
(``replay_out_of_gas=True``; by default only its amounts would differ).
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.context import make_vm_class
from evmkiln.context.vm import REPLAY_REASON
from evmkiln.fuzz.generate import generate

SEED = 11
PROGRAMS = {"ir": 200, "llvm": 40}


@pytest.mark.parametrize("backend", sorted(PROGRAMS))
def test_generated_programs_fail_with_pyevm_own_error(backend: str) -> None:
    if backend != "ir":
        pytest.importorskip(f"evmkiln.backend_{backend}")
    vm_class = make_vm_class(backend, fork="cancun", persistent_cache=False, replay_out_of_gas=True)
    halted = 0
    for index in range(PROGRAMS[backend]):
        program = generate(SEED, index)
        expected = program.run(CancunVM)
        actual = program.run(vm_class)
        assert actual == expected, (index, actual.differences(expected))
        assert (actual.detail, actual.message) == (expected.detail, expected.message), index
        halted += expected.error == "halt"
    stats = vm_class.stats  # type: ignore[attr-defined]
    assert halted > PROGRAMS[backend] // 10
    assert stats.frames_run_compiled > 0 and stats.interpreted_for.get(REPLAY_REASON, 0) > 0
