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

import os

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
