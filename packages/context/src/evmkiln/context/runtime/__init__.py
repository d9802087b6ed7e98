"""Runtime policy: hotness-gated, tiered compilation in the background.

``make_vm_class(backend, runtime=RuntimePolicy())`` runs code on py-evm's
interpreter first and compiles it once it is hot, in compiler processes,
while it keeps running; see :mod:`.policy` for the rule and its defaults,
:mod:`.tiered` for how compiles are run and installed, :mod:`.telemetry`
for what is reported.
"""

from evmkiln.context.runtime.policy import (
    BLOCKING,
    FAST_THRESHOLD,
    OPTIMISING_THRESHOLD,
    TEST_SUITE,
    RuntimePolicy,
    Threshold,
    default_workers,
)
from evmkiln.context.runtime.telemetry import (
    CompilationCallback,
    CompilationEvent,
    Outcome,
    RuntimeStats,
)
from evmkiln.context.runtime.tiered import Compiled, Tier, TieredCodeCache

__all__ = [
    "BLOCKING",
    "FAST_THRESHOLD",
    "OPTIMISING_THRESHOLD",
    "TEST_SUITE",
    "CompilationCallback",
    "CompilationEvent",
    "Compiled",
    "Outcome",
    "RuntimePolicy",
    "RuntimeStats",
    "Threshold",
    "Tier",
    "TieredCodeCache",
    "default_workers",
]
