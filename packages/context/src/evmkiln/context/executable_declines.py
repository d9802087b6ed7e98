"""Asking an executable whether it declines a frame, in the form it was written for.

:class:`~evmkiln.codegen.backend.Executable` may offer ``declines(depth)``;
executables written before the depth was passed offer ``declines()``.  The
form is decided from the signature, not by calling one form and retrying the
other on ``TypeError``: a ``TypeError`` raised inside ``declines`` is then
the executable's own error and reaches the caller as it was raised, instead
of turning into a second call without the argument.

A ``declines`` whose signature Python cannot tell (a method of an extension
module that declares none) is asked as before: with the depth, and without
it if that raises ``TypeError``.

The decision is kept per method (a bound method's function, or a builtin
method's class and name), so the table grows with the code that defines
them, not with the executables; any other callable (a ``partial``, a
callable object) is judged at each call.
"""

from __future__ import annotations

import enum
import inspect
import types
from collections.abc import Callable
from typing import Any


class _Form(enum.Enum):
    WITH_DEPTH = "declines(depth)"
    WITHOUT_DEPTH = "declines()"
    UNKNOWN = "signature not known"


_FORMS: dict[Any, _Form] = {}
"""Per method: the form it is asked in."""


def declines_reason(declines: Callable[..., str | None], depth: int) -> str | None:
    """``declines(depth)``, or ``declines()`` for a ``declines`` that takes no argument."""
    # Asked before every compiled frame: a bound method already judged is called at once.
    if type(declines) is types.MethodType:
        try:
            known = _FORMS.get(declines.__func__) is _Form.WITH_DEPTH
        except TypeError:  # a method whose function cannot be hashed
            known = False
        if known:
            reason: str | None = declines(depth)
            return reason
    key = _method_key(declines)
    try:
        form = None if key is None else _FORMS.get(key)
    except TypeError:  # a method whose function cannot be hashed
        key = form = None
    if form is None:
        form = _form(declines)
        if key is not None:
            _FORMS[key] = form
    if form is _Form.WITH_DEPTH:
        return declines(depth)
    if form is _Form.WITHOUT_DEPTH:
        return declines()
    try:
        return declines(depth)
    except TypeError:
        return declines()


def _method_key(declines: Callable[..., Any]) -> Any:
    """What identifies ``declines``'s method (None: not a method)."""
    kind = type(declines)
    if kind is types.MethodType:
        return declines.__func__  # type: ignore[attr-defined]
    if kind is types.BuiltinMethodType:
        return (type(declines.__self__), declines.__name__)  # type: ignore[attr-defined]
    return None


def _form(declines: Callable[..., Any]) -> _Form:
    """Whether ``declines`` (as called: bound, for a method) accepts one positional argument."""
    try:
        signature = inspect.signature(declines)
    except (TypeError, ValueError):
        return _Form.UNKNOWN
    try:
        signature.bind(0)
    except TypeError:
        return _Form.WITHOUT_DEPTH
    return _Form.WITH_DEPTH
