"""eth-tester's own backend conformance suite, run on evmkiln.

eth-tester ships the tests every backend must pass as a base class,
``eth_tester.utils.backend_testing.BaseTestBackendDirect`` (its own
``tests/backends`` runs them on ``PyEVMBackend``).  Here they run on
``KilnBackend``: deploys, calls, logs and filters, reverts, gas estimates,
snapshots and reverts, blob and set-code transactions, on the ``llvm``
backend with every code compiled before it runs (eth-tester's default fork).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("eth_tester", reason="eth-tester is not installed")
from eth_tester import EthereumTester
from eth_tester.utils.backend_testing import BaseTestBackendDirect

from evmkiln.integrations.eth_tester import KilnBackend

_BACKEND: dict[str, Any] = {}


@pytest.fixture
def eth_tester() -> Any:
    # One VM class (and code cache) for the module, a fresh chain per test:
    # what a test suite using eth-tester does.
    backend = _BACKEND.get("kiln")
    if backend is None:
        backend = _BACKEND["kiln"] = KilnBackend("llvm")
    else:
        backend.reset_to_genesis()
    tester = EthereumTester(backend=backend)
    yield tester
    assert backend.vm_class.stats.compile_failures == 0


class TestKilnBackendDirect(BaseTestBackendDirect):  # type: ignore[misc]  # eth-tester is untyped
    """Every test of eth-tester's backend suite, on KilnBackend."""


def test_the_suite_runs_compiled_code() -> None:
    """Deploys and calls of the suite's contracts run as compiled frames."""
    tester = EthereumTester(backend=KilnBackend("llvm"))
    suite = TestKilnBackendDirect()
    suite.test_call_return13(tester)
    suite.test_estimate_gas(tester)
    stats = tester.backend.vm_class.stats
    assert stats.frames_compiled > 0 and stats.frames_run_compiled > 0
