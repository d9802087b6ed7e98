"""Checking that every engine did the same thing.

A benchmark of an engine that computes something else is meaningless, so each
fixture's results are compared field by field.  For each field the reference
is the first engine, in priority order (py-evm, then revm, then the rest),
that provides it: with py-evm present everything is checked against it; when
py-evm was skipped, gas, output and logs are checked against revm and the
state root against the first evmkiln backend that ran.  The halt reason is
compared only between engines of the py-evm family (same error classes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from evmkiln.bench.engines import PYEVM, REVM
from evmkiln.bench.observation import Observation
from evmkiln.statetest.execution import LogEntry, logs_hash

PRIORITY = (PYEVM, REVM)


@dataclass(frozen=True, slots=True)
class Disagreement:
    fixture: str
    engine: str
    reference: str
    field: str
    expected: str
    actual: str

    def describe(self) -> str:
        return (
            f"{self.fixture}: {self.engine} {self.field} = {self.actual}, "
            f"{self.reference} says {self.expected}"
        )


def _short_hex(data: bytes) -> str:
    text = "0x" + data.hex()
    return text if len(text) <= 42 else f"{text[:20]}…{text[-8:]} ({len(data)} bytes)"


def _logs_text(logs: tuple[LogEntry, ...] | None) -> str:
    assert logs is not None
    return f"{len(logs)} logs, hash {_short_hex(logs_hash(logs))}"


Getter = Callable[[Observation], object]
FIELDS: tuple[tuple[str, Getter, Callable[[Observation], str]], ...] = (
    ("outcome", lambda o: o.outcome, lambda o: o.outcome),
    ("gas used", lambda o: o.gas_used, lambda o: str(o.gas_used)),
    ("output", lambda o: o.output, lambda o: _short_hex(o.output)),
    ("logs", lambda o: o.logs, lambda o: _logs_text(o.logs)),
    (
        "state root",
        lambda o: o.state_root,
        lambda o: _short_hex(o.state_root) if o.state_root is not None else "-",
    ),
    # Halt reasons are engine-specific names; only py-evm-family engines share them.
    ("status", lambda o: o.status, lambda o: o.status),
)


def ordered(names: list[str]) -> list[str]:
    """Engine names with the references first."""
    first = [name for name in PRIORITY if name in names]
    return first + [name for name in names if name not in PRIORITY]


def check_agreement(fixture: str, observations: Mapping[str, Observation]) -> list[Disagreement]:
    """Every field on which an engine differs from that field's reference engine."""
    names = ordered(list(observations))
    found: list[Disagreement] = []
    for field_name, get, show in FIELDS:
        if field_name == "status":
            holders = [n for n in names if observations[n].state_root is not None]
        else:
            holders = [n for n in names if get(observations[n]) is not None]
        if not holders:
            continue
        reference = holders[0]
        expected = get(observations[reference])
        for name in holders[1:]:
            if field_name == "status" and any(d.engine == name for d in found):
                continue  # already reported as a different outcome
            if get(observations[name]) != expected:
                found.append(
                    Disagreement(
                        fixture,
                        name,
                        reference,
                        field_name,
                        show(observations[reference]),
                        show(observations[name]),
                    )
                )
    return found
