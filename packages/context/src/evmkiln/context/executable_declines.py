"""Asking an executable whether it declines a frame, in the form it was written for.

:class:`~evmkiln.codegen.backend.Executable` may offer ``declines(depth)``;
executables written before the depth was passed offer ``declines()``.  The
form is decided from the signature, not by calling one form and retrying the
other on ``TypeError``: a ``TypeError`` raised inside ``declines`` is then
the executable's own error and reaches the caller as it was raised, instead
of turning into a second call without the argument.

The decision is kept per method (a bound method's function: what a class
defines, so the table is as small as the code that defines them); a
``declines`` that is not a method is judged at each call.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

_METHOD_TAKES_DEPTH: dict[Any, bool] = {}
"""Per method's function: whether it is given the depth."""


def declines_reason(declines: Callable[..., str | None], depth: int) -> str | None:
    """``declines(depth)``, or ``declines()`` for a ``declines`` that takes no argument."""
    takes_depth = _METHOD_TAKES_DEPTH.get(getattr(declines, "__func__", None))
    if takes_depth is None:
        takes_depth = _takes_depth(declines)
        if type(declines) is types.MethodType:
            _METHOD_TAKES_DEPTH[declines.__func__] = takes_depth
    if takes_depth:
        return declines(depth)
    return declines()


def _takes_depth(declines: Callable[..., Any]) -> bool:
    """Whether ``declines`` (as called: bound, for a method) accepts one positional argument.

    A callable whose signature Python cannot tell (some builtins) is given
    the depth, the protocol's present form.
    """
    try:
        signature = inspect.signature(declines)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(0)
    except TypeError:
        return False
    return True
