"""The text form round-trips, and bad text is rejected with the line number."""

from __future__ import annotations

import pytest
from bytecode_gen import assemble, programs
from hypothesis import given, settings

from evmkiln.codegen.ir.parser import ParseError, parse_function
from evmkiln.codegen.ir.printer import format_function
from evmkiln.codegen.ir.verifier import verify
from evmkiln.codegen.pipeline import lower_bytecode


@settings(max_examples=200)
@given(snippets=programs)
def test_lowered_ir_round_trips(snippets: list[tuple[str, int]]) -> None:
    text = format_function(lower_bytecode(assemble(snippets, b"\x11" * 20)))
    parsed = parse_function(text)
    verify(parsed)
    assert format_function(parsed) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("function f {\nb0:\n    v0 = frobnicate\n}", "line 3: unknown instruction"),
        ("function f {\nb0:\n    jump nowhere()\n}", "line 3: unknown block"),
        ("function f {\nb0:\n    v1 = add v0, v0\n    stop\n}", "line 3: v0 is used before"),
        ("function f {\nb0:\n    stop\n", "missing closing"),
    ],
)
def test_bad_text_is_rejected(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_function(text)
