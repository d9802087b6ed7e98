"""Case identities and per-case results, as the runner reports and serializes them.

A case is one entry of a test's ``post[<fork>]`` list.  Its id,
``<path>::<test>[d<data>g<gas>v<value>]`` with the path relative to
``GeneralStateTests`` (or ``eest/state_tests``), is what expected-failure
lists and the JSON report use; the position in the post list disambiguates
the rare tests that repeat an index selection.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import asdict, dataclass
from typing import Any


class Status(enum.StrEnum):
    """How a case ended."""

    PASSED = "passed"
    FAILED = "failed"
    """Ran, but the post-state root, logs hash or accept/reject decision differ."""
    ERRORED = "errored"
    """Could not be run to a verdict: invalid fixture, VM exception, unavailable backend."""
    TIMEOUT = "timeout"
    """Exceeded the per-case time limit and its worker was killed."""

    @property
    def is_failure(self) -> bool:
        return self is not Status.PASSED


@dataclass(frozen=True, slots=True)
class CaseRef:
    """Where to find one case: picklable, sent to worker processes."""

    file: str
    """Filesystem path of the fixture file."""
    rel_path: str
    """Path used in ids and reports (relative to ``GeneralStateTests`` when possible)."""
    test_name: str
    post_index: int
    data: int
    gas: int
    value: int
    duplicate: bool = False
    """Another case of the same test has the same indexes: the id then names the position."""

    @property
    def label(self) -> str:
        base = f"d{self.data}g{self.gas}v{self.value}"
        return f"{base}#{self.post_index}" if self.duplicate else base

    @property
    def case_id(self) -> str:
        return f"{self.rel_path}::{self.test_name}[{self.label}]"


@dataclass(frozen=True, slots=True)
class FrameCounts:
    """How one case's frames ran on an evmkiln backend (from the VM class's ``DispatchStats``).

    With artifacts, this is what shows that the code ran from them: ``aot``
    frames ran artifact code, ``jit`` frames ran code compiled during the case
    (contracts created by the transaction cannot have an artifact beforehand),
    ``jit_codes`` distinct codes were compiled for them in this worker.
    """

    aot: int = 0
    jit: int = 0
    interpreted: int = 0
    """Precompiles, and code that did not compile."""
    jit_codes: int = 0
    artifacts_loaded: int = 0
    """Artifacts loaded for this case (each is loaded once per worker, at first use)."""
    without_code: int = 0
    """Messages to accounts without code (and creates with empty initcode)."""

    def __add__(self, other: FrameCounts) -> FrameCounts:
        return FrameCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict on one case (or on a whole file that could not be loaded)."""

    case_id: str
    path: str
    test_name: str
    indexes: dict[str, int] | None
    status: Status
    reason: str
    duration: float
    backend: str
    frames: FrameCounts | None = None
    """Set for cases run to a verdict on an evmkiln backend."""

    @classmethod
    def for_case(
        cls, ref: CaseRef, status: Status, reason: str, duration: float, backend: str
    ) -> CaseResult:
        return cls(
            case_id=ref.case_id,
            path=ref.rel_path,
            test_name=ref.test_name,
            indexes={"data": ref.data, "gas": ref.gas, "value": ref.value},
            status=status,
            reason=reason,
            duration=duration,
            backend=backend,
        )

    @classmethod
    def for_file(cls, rel_path: str, reason: str, backend: str) -> CaseResult:
        """A file that yields no case at all (unreadable, malformed, missing)."""
        return cls(
            case_id=rel_path,
            path=rel_path,
            test_name="",
            indexes=None,
            status=Status.ERRORED,
            reason=reason,
            duration=0.0,
            backend=backend,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["duration"] = round(self.duration, 4)
        return data
