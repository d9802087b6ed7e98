"""One bench fixture, ready to run: block, pre-state and the (possibly overridden) transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evmkiln.bench.parameters import Overrides, apply_overrides
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.fixtures.transaction import TransactionSpec
from evmkiln.fixtures.world import Env, PreState


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    path: Path
    env: Env
    pre: PreState
    spec: TransactionSpec
    parameters: dict[str, int] = field(default_factory=dict)
    """The values of the fixture's scalable parameters, after overrides."""


def load_case(path: Path, overrides: Overrides) -> BenchCase:
    """Read a bench file (raises ``FixtureError``) and apply the overrides meant for it."""
    bench = load_bench_file(path)
    fixture = bench.fixture
    spec, values = apply_overrides(bench.name, fixture.tx.to_spec(), overrides)
    return BenchCase(bench.name, path, fixture.env, fixture.pre, spec, values)
