"""One bench fixture, ready to run: block, pre-state and the (possibly overridden) transaction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from evmkiln.bench.parameters import Overrides, apply_overrides
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.fixtures.transaction import TransactionSpec
from evmkiln.fixtures.world import Env, PreState

BENCH_FORK = "cancun"
"""The bench fixtures' fork (revmc's, from before Prague): ``bench`` and ``run`` default to it."""


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    path: Path
    env: Env
    pre: PreState
    spec: TransactionSpec
    parameters: dict[str, int] = field(default_factory=dict)
    """The values of the fixture's scalable parameters, after overrides."""
    fork: str = BENCH_FORK
    notes: tuple[str, ...] = ()
    """What was changed to run the fixture on ``fork`` (see :func:`fit_to_fork`)."""


def fit_to_fork(spec: TransactionSpec, fork: str) -> tuple[TransactionSpec, str | None]:
    """``spec`` as ``fork`` accepts it, and what changed (``None``: nothing).

    The bench fixtures give every transaction a gas limit of 2^63 - 1; from
    Osaka on a transaction may have at most the fork's cap (EIP-7825), so the
    limit becomes the cap.  Every fixture uses far less gas than that.
    """
    from evmkiln.forks import fork_spec

    cap = fork_spec(fork).tx_gas_cap
    if cap is None or spec.gas_limit <= cap:
        return spec, None
    note = f"gas limit {spec.gas_limit:,} capped at {fork}'s {cap:,} (EIP-7825)"
    return dataclasses.replace(spec, gas_limit=cap), note


def load_case(path: Path, overrides: Overrides, fork: str = BENCH_FORK) -> BenchCase:
    """Read a bench file (raises ``FixtureError``) and apply the overrides meant for it,
    then fit its transaction to ``fork``."""
    bench = load_bench_file(path)
    fixture = bench.fixture
    spec, values = apply_overrides(bench.name, fixture.tx.to_spec(), overrides)
    spec, note = fit_to_fork(spec, fork)
    notes = () if note is None else (note,)
    return BenchCase(bench.name, path, fixture.env, fixture.pre, spec, values, fork, notes)
