"""The ``--json PATH`` option of the commands that write a results file after a long run.

``statetest``, ``bench``, ``soak`` and ``workload`` write their results when
the run is over, which may be hours after the command line was read.  A path
that can never be written (a directory, a path below a regular file, a
directory this user may not write to) is refused while the options are
parsed, so that no run is wasted on it; a write that still fails at the end
(a full disk, a permission changed meanwhile) is one line saying so, not a
traceback after the run's report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer


def blocking_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is not a directory, else ``None``.

    Such an ancestor (a regular file, a device) keeps ``path`` from ever
    being created: ``mkdir(parents=True)`` fails on it.
    """
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _unwritable_because(path: Path) -> str | None:
    """Why a file cannot be written at ``path``, or ``None`` when it may be."""
    if path.is_dir():
        return f"{path} is a directory"
    blocker = blocking_file(path)
    if blocker is not None:
        return f"{path} cannot be created: {blocker} is not a directory"
    if path.exists():
        target, mode = path, os.W_OK
    else:  # created with its missing parents under the nearest existing directory
        target = next((p for p in path.parents if p.exists()), Path("."))
        mode = os.W_OK | os.X_OK
    if not os.access(target, mode):
        return f"{path} is not writable: no write permission on {target}"
    return None


def check_output_path(path: Path | None) -> Path | None:
    """``path`` as given, or a usage error saying why no file can be written there."""
    if path is None:
        return None
    reason = _unwritable_because(path)
    if reason is not None:
        raise typer.BadParameter(reason)
    return path


def json_option(help_text: str) -> Any:
    """A ``--json PATH`` option whose path is checked when the command line is parsed."""
    return typer.Option("--json", help=help_text, callback=check_output_path)


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (creating its parents), or exit 1 with a one-line error.

    Exit status 1, not the usage error's 2: the command line was good and the
    run happened (its report is printed above), but its results file was not
    written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        typer.echo(f"error: cannot write {path}: {reason}", err=True)
        raise typer.Exit(1) from None
