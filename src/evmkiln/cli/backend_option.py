"""Checking ``--backend`` names against the installed evmkiln backends.

``bench``, ``demo`` and ``soak`` make their VM classes (or backend objects)
deep inside a run, where an unknown name surfaces as the registry's
``UnknownBackendError`` traceback, after py-evm's reference run or the
setup of thousands of contracts.  They check the names here first instead:
a usage error that names the unknown ones and lists the installed ones.
Reading the installed names imports no backend.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer


def _refuse_unknown(names: Iterable[str], known: list[str]) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        named = ", ".join(map(repr, unknown))
        raise typer.BadParameter(
            f"unknown backend(s) {named}; known: {', '.join(known)}", param_hint="--backend"
        )


def checked_backends(option: str | None, *, also: Iterable[str] = ()) -> list[str]:
    """The comma-separated names of ``option``, each an installed backend or one of ``also``.

    No names (``None``, or only commas and blanks) means every installed backend.
    """
    from evmkiln.context import available_backends

    installed = available_backends()
    chosen = [name.strip() for name in (option or "").split(",") if name.strip()]
    if not chosen:
        return installed
    _refuse_unknown(chosen, [*installed, *also])
    return chosen


def checked_backend(name: str, *, also: Iterable[str] = ()) -> str:
    """``name`` if it is one installed backend or one of ``also``, else a usage error
    listing them."""
    from evmkiln.context import available_backends

    _refuse_unknown([name], [*available_backends(), *also])
    return name


def checked_vm_backend(name: str) -> str:
    """A ``--backend`` that names a VM to run cases on: stock py-evm (``pyevm``,
    ``pyevm-flat``), an installed evmkiln backend, or a ``module:Class`` that imports
    as a concrete py-evm VM class; else a usage error.

    Checked before any case runs: a run on a name that cannot work reported
    every case as errored, one worker process at a time.
    """
    from evmkiln.statetest.backends import (
        PYEVM_BACKEND,
        PYEVM_FLAT_BACKEND,
        BackendUnavailable,
        resolve_vm_class,
    )

    if ":" not in name:
        return checked_backend(name, also=(PYEVM_BACKEND, PYEVM_FLAT_BACKEND))
    try:
        resolve_vm_class(name)
    except BackendUnavailable as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend") from None
    return name
