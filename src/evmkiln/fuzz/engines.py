"""Engines by name: the VM classes programs run on.

``pyevm`` is stock py-evm's ``CancunVM``, the default reference; as the
reference it is the observed variant (see :mod:`evmkiln.fuzz.coverage`).
A registered backend name (``ir``, ``llvm``, ``wasm``) is
``make_vm_class(backend=..., interpret_on_compile_error=False,
replay_inexact_halts=False)``: code that fails to compile is an error, not a
silent fallback to the interpreter, and a halt is compiled code's own, never
replaced by the interpreter's.
``module:Class`` names any importable VM class -- a patched engine, or a
deliberately wrong one in the tests; those two resolve exactly as the
state-test runner resolves them.
"""

from __future__ import annotations

from typing import Any

from evmkiln.fuzz.coverage import Observation, observed_reference
from evmkiln.statetest.backends import (
    DEFAULT_FORK,
    PYEVM_BACKEND,
    BackendUnavailable,
    resolve_vm_class,
)

REFERENCE = PYEVM_BACKEND

__all__ = ["REFERENCE", "BackendUnavailable", "check_name", "load_reference", "vm_class"]


CACHE_SIZE = 256
"""Compiled codes a fuzzing engine keeps.  Generated programs almost never repeat,
so a large cache only holds memory: with the default 4,096 entries a wasm worker
grew by 0.6 MB per program; with 64 it stayed under 200 MB."""


def vm_class(name: str, opt_level: int | None = None) -> type[Any]:
    """The VM class ``name`` stands for (raises :class:`BackendUnavailable`).

    A backend compiles with ``CompileOptions.opt_level`` ``opt_level`` (None:
    the backend's default) and keeps at most :data:`CACHE_SIZE` codes compiled.
    """
    if name == REFERENCE or ":" in name:
        return resolve_vm_class(name)
    from evmkiln.context import make_vm_class

    options: dict[str, Any] = {} if opt_level is None else {"opt_level": opt_level}
    try:
        made: type[Any] = make_vm_class(
            backend=name,
            fork=DEFAULT_FORK,
            interpret_on_compile_error=False,
            replay_inexact_halts=False,
            cache_size=CACHE_SIZE,
            persistent_cache=False,  # random programs: nothing a later process will meet
            **options,
        )
    except Exception as exc:
        raise BackendUnavailable(
            f"make_vm_class(backend={name!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    return made


def load_reference(name: str, opt_level: int | None = None) -> tuple[type[Any], Observation | None]:
    """The reference VM class, observed when it is py-evm's interpreter."""
    if name == REFERENCE:
        return observed_reference()
    return vm_class(name, opt_level), None


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be an engine, or None; cheap: imports no backend."""
    if name == REFERENCE or ":" in name:
        return None
    from evmkiln.context.registry import available_backends

    known = available_backends()
    if name in known:
        return None
    return f"unknown backend {name!r}; available: {', '.join([REFERENCE, *known])}"
