"""Conformance runner for state tests (ethereum/tests, execution-spec-tests) on any backend.

Each case of the chosen fork (``post["Cancun"]`` by default) runs in a worker
process (with a time limit) on a VM of that fork built from the fixture's
pre-state; the post-state root and logs hash are compared with the fixture's.
"""

from evmkiln.statetest.backends import (
    PYEVM_BACKEND,
    BackendUnavailable,
    make_vm_class_available,
    resolve_vm_class,
)
from evmkiln.statetest.expectations import ExpectedFailures
from evmkiln.statetest.results import CaseRef, CaseResult, Status
from evmkiln.statetest.runner import (
    DEFAULT_TIMEOUT,
    RunConfig,
    RunReport,
    run_discovered,
    run_statetests,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "PYEVM_BACKEND",
    "BackendUnavailable",
    "CaseRef",
    "CaseResult",
    "ExpectedFailures",
    "RunConfig",
    "RunReport",
    "Status",
    "make_vm_class_available",
    "resolve_vm_class",
    "run_discovered",
    "run_statetests",
]
