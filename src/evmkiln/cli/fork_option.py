"""The ``--fork`` option of the commands that run bench fixtures (``bench``, ``run``),
and the check every ``--fork`` shares.

Their fixtures are revmc's single transactions from before Prague, so the
default is Cancun; ``--fork prague`` or ``--fork osaka`` runs the same
transactions on that fork's VM classes, the gas limit capped where the fork
caps it (revm stays on Cancun's rules and is timed only: see
:func:`evmkiln.bench.session.run_fixture`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from evmkiln.bench.case import BENCH_FORK
from evmkiln.forks import SUPPORTED_FORKS

ForkOption = Annotated[
    str,
    typer.Option(
        "--fork",
        help=f"Run the fixtures on this fork: {', '.join(SUPPORTED_FORKS)}.",
    ),
]


def checked_fork(fork: str) -> str:
    """``fork`` in lower case, or a usage error naming the supported forks."""
    name = fork.lower()
    if name not in SUPPORTED_FORKS:
        raise typer.BadParameter(
            f"{fork!r} is not one of {', '.join(SUPPORTED_FORKS)}", param_hint="--fork"
        )
    return name


__all__ = ["BENCH_FORK", "ForkOption", "checked_fork"]
