"""The cross-engine agreement check: a single differing field must be reported."""

from __future__ import annotations

from fakes import observation

from evmkiln.bench.agreement import check_agreement
from evmkiln.bench.observation import HALT, REVERT


def test_identical_results_agree() -> None:
    same = observation()
    revm = observation(root=None)
    assert check_agreement("f", {"pyevm": same, "revm": revm, "llvm": same, "wasm": same}) == []


def test_gas_difference_of_one_backend_is_reported_against_pyevm() -> None:
    found = check_agreement(
        "f", {"llvm": observation(gas=50_001), "pyevm": observation(), "revm": observation()}
    )
    assert [(d.engine, d.reference, d.field) for d in found] == [("llvm", "pyevm", "gas used")]
    assert "50001" in found[0].describe() and "50000" in found[0].describe()


def test_revm_is_compared_on_what_it_exposes() -> None:
    revm = observation(output=b"\x02", root=None)
    found = check_agreement("f", {"pyevm": observation(), "revm": revm})
    assert [(d.engine, d.field) for d in found] == [("revm", "output")]


def test_without_pyevm_revm_is_reference_and_backends_compare_state_roots() -> None:
    found = check_agreement(
        "f",
        {
            "revm": observation(root=None),
            "ir": observation(),
            "llvm": observation(root=b"\x22" * 32),
            "wasm": observation(logs=()),
        },
    )
    assert {(d.engine, d.reference, d.field) for d in found} == {
        ("llvm", "ir", "state root"),
        ("wasm", "revm", "logs"),
    }


def test_different_outcome_is_reported_once() -> None:
    found = check_agreement("f", {"pyevm": observation(), "ir": observation(outcome=REVERT)})
    assert [d.field for d in found] == ["outcome"]


def test_halt_reasons_are_compared_only_within_the_pyevm_family() -> None:
    pyevm = observation(outcome=HALT, detail="OutOfGas")
    revm = observation(outcome=HALT, detail="OutOfGas { .. }", root=None)
    ir = observation(outcome=HALT, detail="InvalidJumpDestination")
    found = check_agreement("f", {"pyevm": pyevm, "revm": revm, "ir": ir})
    assert [(d.engine, d.field) for d in found] == [("ir", "status")]
