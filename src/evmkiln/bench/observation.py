"""What one run of the transaction did, in a form every engine can fill.

Engines expose different amounts of detail: py-evm (and evmkiln, which runs
inside it) yields the receipt, logs and post-state root; pyrevm yields gas
used, output, success/halt and logs but no state root.  Fields an engine
cannot provide are ``None`` and are skipped by the agreement check.
"""

from __future__ import annotations

from dataclasses import dataclass

from evmkiln.statetest.execution import LogEntry

SUCCESS = "success"
REVERT = "revert"
HALT = "halt"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Observation:
    """The externally visible result of one transaction."""

    outcome: str
    """``success``, ``revert``, ``halt`` or ``rejected``: comparable across every engine."""
    detail: str | None
    """The engine's own name for a halt or rejection (not compared across engine families)."""
    gas_used: int
    """Gas the sender pays for: intrinsic gas included, refund subtracted (the receipt's)."""
    output: bytes
    logs: tuple[LogEntry, ...] | None
    state_root: bytes | None

    @property
    def status(self) -> str:
        return self.outcome if self.detail is None else f"{self.outcome} ({self.detail})"
