"""Finding backends by name.

Backends are separate packages; each registers itself under the
``evmkiln.backends`` entry-point group (``ir = "evmkiln.codegen.reference:ReferenceBackend"``),
so the context never imports a backend it is not asked for and third-party
backends plug in by installation alone.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from evmkiln.codegen.backend import Backend

ENTRY_POINT_GROUP = "evmkiln.backends"


class UnknownBackendError(LookupError):
    """No installed backend has the requested name."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    """Names of the installed backends, sorted."""
    return sorted(_entry_points())


def get_backend(name: str) -> Backend:
    """Instantiate the backend registered as ``name``.

    The entry point may name a backend class (instantiated without arguments)
    or a ready backend object.
    """
    found = _entry_points()
    if name not in found:
        available = ", ".join(sorted(found)) or "none installed"
        raise UnknownBackendError(f"unknown backend {name!r}; available: {available}")
    target = found[name].load()
    backend = target() if isinstance(target, type) else target
    if not isinstance(backend, Backend):
        raise TypeError(f"entry point {name!r} does not provide a Backend: {target!r}")
    return backend
