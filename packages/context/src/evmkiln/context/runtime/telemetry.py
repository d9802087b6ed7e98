"""What a tiered runtime reports: a stats snapshot, and one event per finished compile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["done", "failed", "refused", "timed_out", "abandoned"]
"""How a compile ended.

``done``: installed.  ``failed``: the compiler raised or crashed (the code
stays on its tier for good).  ``refused``: over the compile budget of
:mod:`evmkiln.codegen.budget`, or its machine code alone is larger than the
cache (stays too).  ``timed_out``: killed at the policy's ``compile_seconds``
(stays too).  ``abandoned``: the result was not wanted any more (the runtime
was closed, or the code was evicted or forgotten while it compiled); the code
may be promoted again."""


@dataclass(frozen=True, slots=True)
class CompilationEvent:
    """One finished compile, handed to ``on_compilation`` (on the thread that compiled it)."""

    code_hash: bytes
    code_size: int
    tier: int
    """The compiled tier it was for (1 = the lowest compiled tier)."""
    backend: str
    outcome: Outcome
    seconds: float
    """From promotion to installation: queueing, compiling, the pipe and loading."""
    phases: Mapping[str, float] = field(default_factory=dict)
    """Seconds per phase (:data:`evmkiln.codegen.background.PHASES`) when known."""
    nbytes: int = 0
    """Machine code size charged to the cache."""
    error: str = ""


CompilationCallback = Callable[[CompilationEvent], None]


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    """A snapshot of a tiered code cache's counters (``vm_class.code_cache.snapshot()``)."""

    tiers: tuple[str, ...]
    """Tier names, tier 0 (``interpreter``) first."""
    lookups: int
    """Frames that asked for their code (non-empty code, no precompile)."""
    hits: tuple[int, ...]
    """Frames run on each tier, by tier."""
    promotions: tuple[int, ...]
    """Compiles queued for each tier, by tier (tier 0 always 0)."""
    queued: int
    done: int
    failed: int
    refused: int
    timed_out: int
    abandoned: int
    rejected: int
    """Promotions that came while ``max_pending`` compiles were under way: deferred to
    the backlog (queued when a compile ends), or, without ``background``, retried
    at the code's next frame."""
    pending: int
    """Compiles queued or running now."""
    backlog: int
    """Deferred promotions waiting for room in the queue now."""
    remembered_refusals: int
    """Codes capped below a tier at first sight because an earlier process's
    compile for it was refused or timed out (its persistent cache says so)."""
    evicted_bytes: int
    """Compiled codes dropped to keep the cache within ``cache_bytes``."""
    evicted_idle: int
    """Compiled codes dropped after ``idle_evict_seconds`` without a frame."""
    cached_codes: int
    cached_bytes: int
    tracked: int
    """Codes whose calls and gas are being counted."""
    phase_seconds: Mapping[str, float]
    """Seconds per compile phase, summed over finished compiles, plus ``total``
    (promotion to installation, wall time)."""
    loaded: tuple[int, ...] = ()
    """Codes put on each tier at first sight from the persistent code cache, by tier
    (tier 0 always 0): compiled by an earlier process, not compiled here."""

    def as_dict(self) -> dict[str, object]:
        """The snapshot as plain JSON-able values."""
        return {
            "tiers": list(self.tiers),
            "lookups": self.lookups,
            "hits": dict(zip(self.tiers, self.hits, strict=True)),
            "promotions": dict(zip(self.tiers[1:], self.promotions[1:], strict=True)),
            "compiles": {
                "queued": self.queued,
                "done": self.done,
                "failed": self.failed,
                "refused": self.refused,
                "timed_out": self.timed_out,
                "abandoned": self.abandoned,
                "rejected": self.rejected,
                "backlog": self.backlog,
                "remembered_refusals": self.remembered_refusals,
                "pending": self.pending,
            },
            "evicted": {"bytes": self.evicted_bytes, "idle": self.evicted_idle},
            "cached": {"codes": self.cached_codes, "bytes": self.cached_bytes},
            "tracked": self.tracked,
            "loaded": dict(
                zip(self.tiers[1:], (self.loaded or (0,) * len(self.tiers))[1:], strict=True)
            ),
            "phase_seconds": {k: round(v, 6) for k, v in self.phase_seconds.items()},
        }
