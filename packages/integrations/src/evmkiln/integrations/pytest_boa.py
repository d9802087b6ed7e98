"""A pytest plugin that runs titanoboa's environment on evmkiln for a whole session.

For running a titanoboa test suite (titanoboa's own ``tests/unitary``, or a
project's) on evmkiln without touching it:
``pytest -p evmkiln.integrations.pytest_boa``.  At configuration time, before
any test runs, :func:`evmkiln.integrations.boa.enable` puts ``boa.env`` on
evmkiln (``$EVMKILN_BACKEND``, default llvm; ``$EVMKILN_RUNTIME``, default
the tiered policy).  Environments a test makes for itself (``boa.Env()``,
forks) stay on stock py-evm.  Under pytest-xdist only the workers do this
(:func:`~evmkiln.integrations.runs_tests`).
"""

from __future__ import annotations

from typing import Any

from evmkiln.integrations import runs_tests


def pytest_configure(config: Any) -> None:
    if not runs_tests(config):
        return
    from evmkiln.integrations import boa as kiln_boa

    kiln_boa.enable()
