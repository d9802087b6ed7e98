"""What running one program produced: per-engine verdicts and what the reference did.

These are the messages a worker sends back for each program, so they are
small frozen dataclasses: outcomes travel only when an engine disagreed
with the reference (the common case, agreement, needs none of them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from evmkiln.fuzz.execute import Outcome


class Verdict(enum.Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    """Both engines ran the transaction; the outcomes differ."""
    ERROR = "error"
    """The engine raised instead of producing an outcome (the reference did not)."""
    INVALID = "invalid"
    """The reference itself raised: the program says nothing about the engine."""


@dataclass(frozen=True)
class EngineRun:
    """One engine's run of a program: its outcome, or the exception it raised."""

    outcome: Outcome | None
    error: str
    seconds: float


@dataclass(frozen=True)
class CandidateReport:
    engine: str
    verdict: Verdict
    seconds: float
    outcome: Outcome | None = None
    """Kept only when the verdict is not MATCH."""
    error: str = ""
    run: int = 0
    """Which run of the program (1: the first, with its code compiled anew) did not match."""

    def describe(self, expected: Outcome | None) -> str:
        """What went wrong, for people: the fields that differ, or the exception."""
        what = self.error
        if self.verdict is Verdict.MISMATCH and expected is not None and self.outcome is not None:
            what = "differs in " + ", ".join(expected.differences(self.outcome))
        return f"{what} (run {self.run}, code already compiled)" if self.run > 1 else what


@dataclass(frozen=True)
class ProgramReport:
    """A program's run on the reference and on every candidate engine."""

    family: str
    reference_seconds: float
    reference_error: str
    expected: Outcome | None
    """The reference outcome, kept only when some candidate did not match (or none ran)."""
    candidates: tuple[CandidateReport, ...]
    executed: frozenset[int]
    """Opcodes the reference executed (empty when the reference cannot be observed)."""
    present: frozenset[int]
    halts: tuple[tuple[str, int], ...]
    """Frame halts of the reference run, by py-evm exception class, with counts."""
    top_halt: str
    """How the transaction's own frame ended: "" (success) or py-evm's exception class name."""

    def failed(self) -> list[CandidateReport]:
        return [c for c in self.candidates if c.verdict in (Verdict.MISMATCH, Verdict.ERROR)]
