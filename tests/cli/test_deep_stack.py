"""on_deep_stack: the result or exception of fn, with room for deep Python recursion."""

from __future__ import annotations

import threading

import pytest

from evmkiln.deep_stack import on_deep_stack


def _depth(n: int) -> int:
    return 0 if n == 0 else 1 + _depth(n - 1)


def test_returns_the_result_from_a_thread_where_deep_recursion_fits() -> None:
    caller = threading.get_ident()
    default_stack = threading.stack_size()
    seen: list[int] = []

    def work() -> int:
        seen.append(threading.get_ident())
        return _depth(20_000)  # beyond the default recursion limit and 8 MiB stack margin

    assert on_deep_stack(work) == 20_000
    assert seen and seen[0] != caller
    assert threading.stack_size() == default_stack  # the process-wide setting is restored


def test_reraises_on_the_calling_thread() -> None:
    def fail() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        on_deep_stack(fail)
