"""A pytest plugin that runs titanoboa's environment on evmkiln for a whole session.

For running a titanoboa test suite (titanoboa's own ``tests/unitary``, or a
project's) on evmkiln without touching it:
``pytest -p evmkiln.integrations.pytest_boa``.  At configuration time, before
any test runs, :func:`evmkiln.integrations.boa.enable` puts ``boa.env`` on
evmkiln (``$EVMKILN_BACKEND``, default llvm; ``$EVMKILN_RUNTIME``, default
the tiered policy).  A test that leaves another environment behind
(``boa.set_env(boa.Env())`` without restoring the old one) would otherwise
put every later test of the process back on stock py-evm: before each test,
``boa.env`` is put on evmkiln again if it is not, on the same VM class (one
per fork), so that code compiled for one test serves the next.  An
environment a test makes and uses within itself (``boa.swap_env``, forks)
stays as the test made it.  Under pytest-xdist only the workers do this
(:func:`~evmkiln.integrations.runs_tests`).  With ``$EVMKILN_FRAMES_REPORT``
set, each test process reports how many frames ran compiled
(:func:`~evmkiln.integrations.write_frames_report`).
"""

from __future__ import annotations

from typing import Any

from evmkiln.integrations import runs_tests, write_frames_report

_VM_CLASSES: dict[str, type[Any]] = {}
"""The VM class the session's environments run on, by fork."""


def pytest_configure(config: Any) -> None:
    if not runs_tests(config):
        return
    from evmkiln.integrations import boa as kiln_boa

    _VM_CLASSES[kiln_boa.fork_of()] = kiln_boa.enable()


def pytest_runtest_setup(item: Any) -> None:
    if not _VM_CLASSES:
        return
    from evmkiln.integrations import boa as kiln_boa

    if kiln_boa.is_enabled():
        return
    fork = kiln_boa.fork_of()
    vm_class = _VM_CLASSES.get(fork)
    if vm_class is None:
        _VM_CLASSES[fork] = kiln_boa.enable(fork=fork)
    else:
        kiln_boa.move_to(vm_class)


def pytest_sessionfinish(session: Any) -> None:
    if _VM_CLASSES:
        write_frames_report("titanoboa", _VM_CLASSES.values())
