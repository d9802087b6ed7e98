"""``--runtime``, ``--hot-calls`` and ``--jit-workers`` become a runtime policy (or none)."""

from __future__ import annotations

import pytest
import typer

from evmkiln.cli.runtime_option import RuntimeMode, runtime_policy


def test_blocking_is_no_policy_and_refuses_tiered_options() -> None:
    assert runtime_policy(RuntimeMode.blocking, None, None) is None
    with pytest.raises(typer.BadParameter):
        runtime_policy(RuntimeMode.blocking, "3", None)


def test_tiered_options() -> None:
    policy = runtime_policy(RuntimeMode.tiered, "3", 2)
    assert policy is not None
    assert [t.calls for t in policy.thresholds] == [3, 24]
    assert policy.workers == 2
    assert policy.thresholds[0].gas == 60_000  # the gas rule keeps its defaults
    explicit = runtime_policy(RuntimeMode.tiered, "2,5", None)
    assert explicit is not None and [t.calls for t in explicit.thresholds] == [2, 5]
    for bad in ("x", "0", "1,2,3"):
        with pytest.raises(typer.BadParameter):
            runtime_policy(RuntimeMode.tiered, bad, None)
