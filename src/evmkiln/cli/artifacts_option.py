"""The ``--artifacts`` and ``--strict-aot`` options of the commands that run code.

``run``, ``statetest`` and ``bench`` accept an artifacts directory written by
``evmkiln compile`` (or ``statetest --aot``).  The commands load artifacts
lazily, each when its code first runs: a directory may hold every contract
of the conformance suite, of which one fixture uses a handful.  A backend that
cannot load artifacts is a usage error here, not a failure of every case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ArtifactsOption = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        help="Load contracts compiled ahead of time (`evmkiln compile`) from this directory; "
        "other code is JIT-compiled.",
        exists=True,
        file_okay=False,
    ),
]

StrictAotOption = Annotated[
    bool,
    typer.Option(
        "--strict-aot",
        help="With artifacts: code without an artifact is an error instead of being compiled.",
    ),
]


def check_aot_backend(backend: str, option: str = "--artifacts") -> None:
    """Exit with a usage error unless ``backend`` is an evmkiln backend that loads artifacts."""
    from evmkiln.context.artifact_store import require_aot
    from evmkiln.context.registry import get_backend

    try:
        require_aot(get_backend(backend))
    except (LookupError, TypeError) as exc:
        raise typer.BadParameter(
            f"{option} needs an evmkiln backend with ahead-of-time support: {exc}",
            param_hint="--backend",
        ) from None


def check_strict(strict_aot: bool, artifacts: Path | None) -> None:
    """``--strict-aot`` means nothing without artifacts: refuse it rather than ignore it."""
    if strict_aot and artifacts is None:
        raise typer.BadParameter("--strict-aot needs --artifacts", param_hint="--strict-aot")
