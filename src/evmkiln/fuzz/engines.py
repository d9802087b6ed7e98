"""Engines by name: the VM classes programs run on.

``pyevm`` is stock py-evm's ``CancunVM``, the default reference; as the
reference it is the observed variant (see :mod:`evmkiln.fuzz.coverage`).
A registered backend name (``ir``, ``llvm``, ``wasm``) is
``make_vm_class(backend=..., interpret_on_compile_error=False)``: code that
fails to compile is an error, not a silent fallback to the interpreter.
``module:Class`` names any importable VM class -- a patched engine, or a
deliberately wrong one in the tests.  Names resolve exactly as the
state-test runner resolves them.
"""

from __future__ import annotations

from typing import Any

from evmkiln.fuzz.coverage import Observation, observed_reference
from evmkiln.statetest.backends import (
    FORK,
    PYEVM_BACKEND,
    BackendUnavailable,
    resolve_vm_class,
)

REFERENCE = PYEVM_BACKEND

__all__ = ["REFERENCE", "BackendUnavailable", "check_name", "load_reference", "vm_class"]


def vm_class(name: str, opt_level: int | None = None) -> type[Any]:
    """The VM class ``name`` stands for (raises :class:`BackendUnavailable`).

    ``opt_level`` compiles with ``CompileOptions.opt_level`` instead of the
    backend's default (it means nothing to ``pyevm`` and ``module:Class``).
    """
    if opt_level is None or name == REFERENCE or ":" in name:
        return resolve_vm_class(name)
    from evmkiln.context import make_vm_class

    try:
        made: type[Any] = make_vm_class(
            backend=name, fork=FORK, interpret_on_compile_error=False, opt_level=opt_level
        )
    except Exception as exc:
        raise BackendUnavailable(
            f"make_vm_class(backend={name!r}, opt_level={opt_level}) failed: "
            f"{type(exc).__name__}: {exc}"
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
