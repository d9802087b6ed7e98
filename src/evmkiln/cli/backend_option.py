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


def checked_backend(name: str) -> str:
    """``name`` if it is one installed backend, else a usage error listing the installed ones."""
    from evmkiln.context import available_backends

    _refuse_unknown([name], available_backends())
    return name
