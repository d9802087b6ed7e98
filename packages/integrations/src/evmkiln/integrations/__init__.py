"""evmkiln inside the Python tools built on py-evm.

One module per tool, each importing its tool when it is itself imported, so
that neither evmkiln nor this package depends on any of them:

- :mod:`evmkiln.integrations.eth_tester` -- ``KilnBackend``, an eth-tester
  chain backend (and so web3.py's ``EthereumTesterProvider`` and Ape's local
  network, through ``ETHEREUM_TESTER_CHAIN_BACKEND``);
- :mod:`evmkiln.integrations.boa` -- ``enable()``, which puts titanoboa's
  environment on evmkiln.

docs/integrations.md says what works and what differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DEFAULT_BACKEND = "llvm"
"""The backend used when neither an argument nor ``EVMKILN_BACKEND`` names one."""


def backend_from_environment(backend: str | None) -> str:
    """``backend``, else ``$EVMKILN_BACKEND``, else :data:`DEFAULT_BACKEND`.

    Tools that build their backend from a class path with no arguments
    (eth-tester's ``ETHEREUM_TESTER_CHAIN_BACKEND``, hence web3.py's and Ape's
    defaults) leave the environment as the only way to choose.
    """
    return backend or os.environ.get("EVMKILN_BACKEND") or DEFAULT_BACKEND


def fork_from_environment(fork: str | None, default: str) -> str:
    """``fork``, else ``$EVMKILN_FORK``, else the tool's own default ``default``."""
    return fork or os.environ.get("EVMKILN_FORK") or default


RUNTIME_ENV = "EVMKILN_RUNTIME"
"""``tiered`` (the default) or ``blocking``: how an integration's VM class compiles."""


def runtime_options(options: dict[str, Any]) -> dict[str, Any]:
    """``make_vm_class`` options with the runtime policy an integration runs under.

    A test suite or a notebook meets many contracts a few times each, where
    compiling every code before it runs costs more than interpreting it, so
    integrations use the tiered runtime (interpret, compile what gets hot, in
    the background) with the gas rule alone
    (:data:`~evmkiln.context.runtime.TEST_SUITE`: a contract called often
    but cheaply is not worth a compile there).  ``$EVMKILN_RUNTIME=blocking``
    compiles every code first; an explicit ``runtime=`` option wins over both.
    """
    if "runtime" in options:
        return options
    mode = os.environ.get(RUNTIME_ENV, "tiered").strip().lower()
    if mode == "blocking":
        return {**options, "runtime": None}
    if mode != "tiered":
        raise ValueError(f"{RUNTIME_ENV}={mode!r}: expected 'tiered' or 'blocking'")
    from evmkiln.context.runtime import TEST_SUITE

    return {**options, "runtime": TEST_SUITE}


def runs_tests(config: Any) -> bool:
    """Whether this pytest process runs tests (is not pytest-xdist's controller).

    With ``-n N`` the controller only hands tests to its workers.  A plugin
    that sets evmkiln up there would import the tool, py-evm and evmkiln and
    build VM classes (about a second) on the path to the first test, for
    nothing; the workers set themselves up.
    """
    if hasattr(config, "workerinput"):
        return True
    return getattr(config.option, "dist", "no") == "no"


FRAMES_REPORT_ENV = "EVMKILN_FRAMES_REPORT"
"""A directory: the pytest plugins write there, at the end of each test process, how
many frames ran compiled and how many on the interpreter (:func:`write_frames_report`)."""


def write_frames_report(tool: str, vm_classes: Iterable[Any]) -> Path | None:
    """Add up the dispatch counts of ``vm_classes`` into ``$EVMKILN_FRAMES_REPORT/TOOL-PID.json``.

    A test suite run on evmkiln passes just as well if nothing in it ever ran
    compiled (the tiered runtime interprets code that never gets hot; a test
    may swap in an environment of its own): the report says how much of the
    run the comparison with stock py-evm actually covered.  Nothing is written
    when the variable is unset.
    """
    directory = os.environ.get(FRAMES_REPORT_ENV)
    if not directory:
        return None
    totals = {"frames_run_compiled": 0, "frames_interpreted": 0, "frames_compiled": 0}
    reasons: dict[str, int] = {}
    for vm_class in vm_classes:
        stats = vm_class.stats
        for name in totals:
            totals[name] += getattr(stats, name)
        for reason, count in stats.interpreted_for.items():
            reasons[reason] = reasons.get(reason, 0) + count
    path = Path(directory) / f"{tool}-{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**totals, "interpreted_for": reasons}))
    return path
