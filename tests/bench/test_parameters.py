"""Fixture parameters read from and written into calldata."""

from __future__ import annotations

import pytest
from fakes import case

from evmkiln.bench.parameters import ParameterError, apply_overrides, parse_override


def test_override_rewrites_the_calldata_word() -> None:
    spec = case("fibonacci-calldata", data=(1000).to_bytes(32, "big")).spec
    new, values = apply_overrides(
        "fibonacci-calldata", spec, {("fibonacci-calldata", "iterations"): 1_000_000}
    )
    assert new.data == (1_000_000).to_bytes(32, "big")
    assert values == {"iterations": 1_000_000}


def test_without_override_the_fixture_value_is_reported() -> None:
    spec = case("factorial", data=(1000).to_bytes(32, "big")).spec
    new, values = apply_overrides("factorial", spec, {("fibonacci-calldata", "iterations"): 5})
    assert new is spec
    assert values == {"iterations": 1000}


def test_parse_override() -> None:
    assert parse_override("fibonacci-calldata.iterations=0x10") == (
        "fibonacci-calldata",
        "iterations",
        16,
    )
    for bad in ("fibonacci-calldata.iterations", "weth.iterations=3", "factorial.iterations=x"):
        with pytest.raises(ParameterError):
            parse_override(bad)


@pytest.mark.parametrize("value", ["-1", str(2**256), hex(2**256)], ids=["-1", "2**256", "hex"])
def test_a_value_no_calldata_word_holds_is_refused_when_parsed(value: str) -> None:
    with pytest.raises(ParameterError, match="must be a 256-bit unsigned integer"):
        parse_override(f"factorial.iterations={value}")
    assert parse_override(f"factorial.iterations={2**256 - 1}")[2] == 2**256 - 1
