"""A pytest plugin that makes eth-tester's ``PyEVMBackend`` evmkiln's ``KilnBackend``.

eth-tester's own backend tests (``tests/backends`` of its source
distribution) build ``PyEVMBackend()`` by name.  To run them on evmkiln
unchanged, load this plugin (``pytest -p evmkiln.integrations.pytest_pyevm_backend``):
before the test modules are imported, the name ``eth_tester.PyEVMBackend``
is bound to :class:`~evmkiln.integrations.eth_tester.KilnBackend`, a subclass
that takes the same parameters.  Only that name changes; eth-tester's and
py-evm's code stay as they are.  Under pytest-xdist only the workers do this
(:func:`~evmkiln.integrations.runs_tests`).  With ``$EVMKILN_FRAMES_REPORT``
set, each test process reports how many frames ran compiled
(:func:`~evmkiln.integrations.write_frames_report`).
"""

from __future__ import annotations

from typing import Any

from evmkiln.integrations import runs_tests, write_frames_report


def pytest_configure(config: Any) -> None:
    if not runs_tests(config):
        return
    import eth_tester

    from evmkiln.integrations.eth_tester import KilnBackend

    eth_tester.PyEVMBackend = KilnBackend


def pytest_sessionfinish(session: Any) -> None:
    if not runs_tests(session.config):
        return
    from evmkiln.integrations.eth_tester import SHARED_VM_CLASSES

    write_frames_report("eth-tester", SHARED_VM_CLASSES.values())
