"""``declines`` is asked in the form its executable was written for, decided once."""

from __future__ import annotations

from typing import Any

import pytest

from evmkiln.context.executable_declines import declines_reason


class WithDepth:
    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    def declines(self, depth: int) -> str | None:
        self.asked.append((depth,))
        return "deep" if depth > 3 else None


class WithoutDepth:
    def __init__(self) -> None:
        self.asked = 0

    def declines(self) -> str | None:
        self.asked += 1
        return "never here"


class Broken:
    def __init__(self) -> None:
        self.calls = 0
        self.error = TypeError("an error of the executable's own")

    def declines(self, depth: int) -> str | None:
        self.calls += 1
        raise self.error


def test_a_method_that_takes_the_depth_is_given_it() -> None:
    executable = WithDepth()
    assert declines_reason(executable.declines, 2) is None
    assert declines_reason(executable.declines, 7) == "deep"
    assert executable.asked == [(2,), (7,)]


def test_a_method_of_the_older_form_is_asked_without_it() -> None:
    executable = WithoutDepth()
    assert declines_reason(executable.declines, 5) == "never here"
    assert declines_reason(executable.declines, 6) == "never here"
    assert executable.asked == 2


def test_a_type_error_inside_declines_is_raised_as_it_was_and_asked_once() -> None:
    """Retrying without the depth on any ``TypeError`` would hide this error behind a
    missing-argument one, and call ``declines`` twice."""
    executable = Broken()
    with pytest.raises(TypeError) as raised:
        declines_reason(executable.declines, 1)
    assert raised.value is executable.error
    assert executable.calls == 1


def test_callables_that_are_not_methods() -> None:
    assert declines_reason(lambda: "short stack", 9) == "short stack"
    assert declines_reason(lambda depth: f"at {depth}", 9) == "at 9"
    assert declines_reason(lambda depth=None: depth, 4) == 4


def test_a_class_whose_method_changes_is_judged_again() -> None:
    """The decision is kept per function, so a method replaced on the class (a tool's
    patch) is judged for itself."""
    executable = WithDepth()
    assert declines_reason(executable.declines, 1) is None

    class Patched(WithDepth):
        def declines(self) -> str | None:  # type: ignore[override]
            return "patched"

    assert declines_reason(Patched().declines, 1) == "patched"


def test_a_method_without_a_signature_is_asked_as_before() -> None:
    """An extension module's method that declares no signature (here ``deque.clear``,
    which takes no argument) is asked with the depth, then without it."""
    import collections

    queue: collections.deque[int] = collections.deque([1, 2])
    assert declines_reason(queue.clear, 3) is None
    assert not queue


def test_builtin_methods_with_a_signature_are_judged_by_it() -> None:
    slots = {4: "deep"}
    assert declines_reason(slots.get, 4) == "deep"
    assert declines_reason(slots.get, 5) is None


def test_a_partial_is_judged_at_each_call() -> None:
    import functools

    def reason(prefix: str, depth: int) -> str:
        return f"{prefix} {depth}"

    assert declines_reason(functools.partial(reason, "at"), 3) == "at 3"
    assert declines_reason(functools.partial(reason, "at", 9), 3) == "at 9"
