"""Choosing the VM class a backend name stands for.

``pyevm`` is the baseline: stock py-evm with nothing compiled (``CancunVM``,
``PragueVM``, or evmkiln's ``OsakaVM`` layered on py-evm's Prague classes),
the reference every other backend is compared against.  ``module:Class``
names any importable VM class (a patched or instrumented VM, a test double).
Any other name is handed to ``evmkiln.context.make_vm_class``, imported only when needed so that
the runner works (and its baseline can be measured) before, and independently
of, the context package.

An :class:`ArtifactsSetting` adds code compiled ahead of time to an evmkiln
backend; it is a small picklable value so that the state-test pool can hand
it to its worker processes.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evmkiln.context.runtime import RuntimePolicy

PYEVM_BACKEND = "pyevm"
PYEVM_FLAT_BACKEND = "pyevm-flat"
"""py-evm's interpreter on evmkiln's flat state (nothing compiled)."""
DEFAULT_FORK = "cancun"
"""The fork a run targets unless told otherwise (the only one of ethereum/tests)."""


@dataclass(frozen=True, slots=True)
class ArtifactsSetting:
    """An evmkiln backend run with the artifacts of ``directory`` (see ``make_vm_class``)."""

    directory: str
    preload: bool = False
    """Load every artifact when the VM class is made; by default each is loaded
    when its code first runs, since a directory may hold far more contracts than
    one process runs."""
    strict: bool = False
    """Code without an artifact raises instead of being JIT-compiled."""


class BackendUnavailable(Exception):
    """The backend's VM class cannot be made (context package missing or refusing the name)."""


def make_vm_class_available() -> bool:
    """Whether ``evmkiln.context.make_vm_class`` can be imported.

    Any import-time failure of the context package counts as "not available",
    so that a half-written package cannot break test collection.
    """
    try:
        module = importlib.import_module("evmkiln.context")
    except Exception:
        return False
    return callable(getattr(module, "make_vm_class", None))


def resolve_vm_class(
    backend: str,
    artifacts: ArtifactsSetting | None = None,
    fork: str = DEFAULT_FORK,
    runtime: RuntimePolicy | None = None,
    *,
    persistent_cache: bool | None = False,
) -> type[Any]:
    """The py-evm VM class of ``fork`` that runs frames through ``backend``.

    A ``module:Class`` is taken as it is, whatever the fork.  ``runtime`` is
    the evmkiln backend's runtime policy (``None``: compile before running).

    ``persistent_cache`` goes to ``make_vm_class``.  It is off here by default:
    conformance and fuzz runs compile thousands of throw-away contracts, must
    not fill (and evict) the user's code cache, and test the compiler, not
    the cache.  ``None`` follows ``EVMKILN_CACHE`` (what ``evmkiln run`` uses).

    ``artifacts`` only applies to evmkiln backends; with ``pyevm`` or a
    ``module:Class`` it raises :class:`BackendUnavailable` rather than be ignored.
    """
    if artifacts is not None and (backend in (PYEVM_BACKEND, PYEVM_FLAT_BACKEND) or ":" in backend):
        raise BackendUnavailable(
            f"backend {backend!r} compiles nothing, so it cannot use artifacts"
        )
    if backend in (PYEVM_BACKEND, PYEVM_FLAT_BACKEND):
        from evmkiln.forks import fork_spec

        try:
            stock = fork_spec(fork).vm_class
        except ValueError as exc:
            raise BackendUnavailable(str(exc)) from None
        if backend == PYEVM_BACKEND:
            return stock
        from evmkiln.context.state_class import with_flat_state

        return with_flat_state(stock)
    if ":" in backend:
        return _import_vm_class(backend)
    try:
        module = importlib.import_module("evmkiln.context")
    except Exception as exc:
        raise BackendUnavailable(
            f"backend {backend!r} needs evmkiln.context, which cannot be imported: {exc}"
        ) from exc
    make_vm_class = getattr(module, "make_vm_class", None)
    if make_vm_class is None:
        raise BackendUnavailable(
            f"backend {backend!r} needs evmkiln.context.make_vm_class, which does not exist yet"
        )
    try:
        # A compiler failure must show as an error, not pass on py-evm's interpreter.
        aot: dict[str, Any] = (
            {}
            if artifacts is None
            else {
                "artifacts": artifacts.directory,
                "preload": artifacts.preload,
                "strict_aot": artifacts.strict,
            }
        )
        made: type[Any] = make_vm_class(
            backend=backend,
            fork=fork,
            interpret_on_compile_error=False,
            replay_inexact_halts=False,
            runtime=runtime,
            persistent_cache=persistent_cache,
            **aot,
        )
    except Exception as exc:
        raise BackendUnavailable(
            f"evmkiln.context.make_vm_class(backend={backend!r}, fork={fork!r}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return made


def _import_vm_class(spec: str) -> type[Any]:
    """The class ``module:Class`` names, if cases can run on it: a concrete py-evm VM class.

    Anything else (a function, another class, py-evm's abstract ``VM``) would
    only fail once a case runs, with an ``AttributeError`` that does not say
    the name was wrong.
    """
    module_name, _, attribute = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:
        raise BackendUnavailable(
            f"cannot import VM class {spec!r}: {type(exc).__name__}: {exc}"
        ) from exc
    from eth.abc import VirtualMachineAPI

    if isinstance(found, type) and issubclass(found, VirtualMachineAPI):
        if not inspect.isabstract(found):
            return found
        what = "an abstract VM class"
    elif isinstance(found, type):
        what = f"the class {found.__qualname__}"
    else:
        what = f"a {type(found).__name__}"
    raise BackendUnavailable(
        f"{spec!r} names {what}, not a VM class to run on: expected a concrete subclass of "
        "py-evm's eth.abc.VirtualMachineAPI, such as eth.vm.forks.cancun:CancunVM"
    )
