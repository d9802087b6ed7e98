"""Finding backends by name.

Backends are separate packages; each registers itself under the
``evmkiln.backends`` entry-point group (``ir = "evmkiln.codegen.reference:ReferenceBackend"``),
so the context never imports a backend it is not asked for and third-party
backends plug in by installation alone.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from evmkiln.codegen.backend import Backend, BackendCapabilities, CompileOptions, Executable
from evmkiln.codegen.ir.function import Function

ENTRY_POINT_GROUP = "evmkiln.backends"


class UnknownBackendError(LookupError):
    """No installed backend has the requested name."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    # Read once per process: scanning every installed distribution's metadata
    # costs milliseconds, and a VM class asks several times.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    """Names of the installed backends, sorted."""
    return sorted(_entry_points())


def _entry_point(name: str) -> EntryPoint:
    found = _entry_points()
    if name not in found:
        available = ", ".join(sorted(found)) or "none installed"
        raise UnknownBackendError(f"unknown backend {name!r}; available: {available}")
    return found[name]


def get_backend(name: str) -> Backend:
    """Instantiate the backend registered as ``name``.

    The entry point may name a backend class (instantiated without arguments)
    or a ready backend object.
    """
    target = _entry_point(name).load()
    backend = target() if isinstance(target, type) else target
    if not isinstance(backend, Backend):
        raise TypeError(f"entry point {name!r} does not provide a Backend: {target!r}")
    return backend


class DeferredBackend:
    """A registered backend imported the first time it is used for more than its name.

    Importing a native backend costs tens of milliseconds (llvmlite, wasmtime
    and the backend's own modules), and a process under a tiered runtime
    policy may never compile anything: a test suite whose contracts never get
    hot.  A VM class made with a backend's *name* under such a policy holds
    this stand-in, so that cost is paid at the first compile (or the first
    load from the persistent cache) instead of at start-up.

    Attribute access delegates to the real backend, importing it on first
    use; so do ``isinstance`` checks against the runtime-checkable backend
    protocols (they look attributes up).  The name is checked against the
    installed entry points at construction, so an unknown backend is still
    refused at once; a backend that is installed but fails to import fails
    at its first use, where the runtime treats it as a failed compile.
    """

    __slots__ = ("_backend", "_lock", "name")

    def __init__(self, name: str) -> None:
        _entry_point(name)  # UnknownBackendError now, not at the first compile
        self.name = name
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the backend has been imported and instantiated."""
        return self._backend is not None

    def resolve(self) -> Backend:
        """The real backend, imported and instantiated on the first call."""
        backend = self._backend
        if backend is None:
            with self._lock:
                backend = self._backend
                if backend is None:
                    backend = self._backend = get_backend(self.name)
        return backend

    def capabilities(self) -> BackendCapabilities:
        return self.resolve().capabilities()

    def compile(self, function: Function, options: CompileOptions | None = None) -> Executable:
        return self.resolve().compile(function, options)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(self.resolve(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded yet"
        return f"<DeferredBackend {self.name!r} ({state})>"


def resolved(backend: Backend) -> Backend:
    """``backend`` itself, or the real backend behind a :class:`DeferredBackend`."""
    return backend.resolve() if isinstance(backend, DeferredBackend) else backend


def is_unresolved(backend: object) -> bool:
    """Whether ``backend`` is a :class:`DeferredBackend` not imported yet."""
    return isinstance(backend, DeferredBackend) and not backend.loaded
