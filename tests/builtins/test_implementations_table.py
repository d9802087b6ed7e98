"""The implementations and the declared signature table must stay in step."""

from __future__ import annotations

import inspect

import pytest

from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.table import BUILTINS


def test_every_declared_builtin_is_implemented_and_nothing_else() -> None:
    assert IMPLEMENTATIONS.keys() == BUILTINS.keys()


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_arity_matches_the_table(name: str) -> None:
    params = list(inspect.signature(IMPLEMENTATIONS[name]).parameters.values())
    assert params[0].name == "frame"
    words = params[1:]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in words)
    assert all(p.default is inspect.Parameter.empty for p in words)
    assert len(words) == len(BUILTINS[name].params)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_result_kind_matches_the_table(name: str) -> None:
    returns = inspect.signature(IMPLEMENTATIONS[name]).return_annotation
    expected = "int" if BUILTINS[name].results else "None"
    assert returns == expected
