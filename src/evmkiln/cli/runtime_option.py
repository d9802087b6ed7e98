"""``--runtime``, ``--hot-calls`` and ``--jit-workers``: the runtime policy of an evmkiln backend.

``blocking`` (the default of ``run``, ``bench`` and ``statetest``) compiles
every code before it first runs: what conformance and steady-state
benchmarks want.  ``tiered`` is :class:`~evmkiln.context.runtime.RuntimePolicy`'s
default (interpret until hot, compile in the background, fast tier first);
``--hot-calls N[,M]`` sets the calls after which code goes to the first
(and second) compiled tier, ``--jit-workers`` the compiler processes.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from evmkiln.context.runtime import RuntimePolicy


class RuntimeMode(enum.Enum):
    blocking = "blocking"
    tiered = "tiered"


RuntimeOption = Annotated[
    RuntimeMode,
    typer.Option(
        "--runtime",
        help="blocking: compile every code before it runs; tiered: interpret until hot, "
        "then compile in the background (fast tier, then optimising tier).",
    ),
]
HotCallsOption = Annotated[
    str | None,
    typer.Option(
        "--hot-calls",
        metavar="N[,M]",
        help="With --runtime tiered: calls after which code is compiled (N) and, with a "
        "fast tier, optimised (M; default 8N).",
    ),
]
JitWorkersOption = Annotated[
    int | None,
    typer.Option(
        "--jit-workers", min=1, help="With --runtime tiered: compiler processes (default: cores-1)."
    ),
]


def runtime_policy(
    mode: RuntimeMode, hot_calls: str | None, workers: int | None
) -> RuntimePolicy | None:
    """The policy the options ask for; ``None`` for blocking mode (``make_vm_class``'s default)."""
    if mode is RuntimeMode.blocking:
        if hot_calls is not None or workers is not None:
            raise typer.BadParameter(
                "--hot-calls and --jit-workers need --runtime tiered", param_hint="--runtime"
            )
        return None
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    fields: dict[str, object] = {}
    if hot_calls is not None:
        try:
            calls = [int(part) for part in hot_calls.split(",")]
        except ValueError:
            raise typer.BadParameter(
                f"not N or N,M: {hot_calls!r}", param_hint="--hot-calls"
            ) from None
        if not 1 <= len(calls) <= 2 or min(calls) < 1:
            raise typer.BadParameter(
                f"one or two positive counts: {hot_calls!r}", param_hint="--hot-calls"
            )
        if len(calls) == 1:
            calls.append(8 * calls[0])
        defaults = RuntimePolicy().thresholds
        fields["thresholds"] = tuple(
            Threshold(calls=n, gas=t.gas, gas_per_byte=t.gas_per_byte)
            for n, t in zip(calls, defaults, strict=True)
        )
    if workers is not None:
        fields["workers"] = workers
    return RuntimePolicy.model_validate(fields)
