"""The ``--fixtures`` option every fixture-reading command shares.

The fixtures live outside the repository (``../shared/fixtures``); commands
take their root from ``--fixtures`` or the ``EVMKILN_FIXTURES`` environment
variable, and locate ``statetests/GeneralStateTests``, ``eest/state_tests`` and
``bench/`` under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evmkiln.fixtures.loading import FIXTURES_ENV_VAR

FixturesOption = Annotated[
    Path | None,
    typer.Option(
        "--fixtures",
        envvar=FIXTURES_ENV_VAR,
        help="Fixtures root holding statetests/ and bench/.",
        show_envvar=True,
        file_okay=False,
    ),
]

STATETESTS_SUBDIR = Path("statetests") / "GeneralStateTests"
EEST_STATETESTS_SUBDIR = Path("eest") / "state_tests"
BENCH_SUBDIR = Path("bench")


def require_fixtures_dir(root: Path | None, sub: Path, what: str) -> Path:
    """``root / sub``, or exit with a message saying how to point at the fixtures."""
    if root is None:
        raise typer.BadParameter(
            f"no {what} given and no fixtures root: pass --fixtures DIR or set {FIXTURES_ENV_VAR}",
            param_hint="--fixtures",
        )
    path = root / sub
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is not a directory", param_hint="--fixtures")
    return path
