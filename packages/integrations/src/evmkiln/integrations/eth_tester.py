"""An eth-tester chain backend whose frames run compiled code.

:class:`KilnBackend` is eth-tester's ``PyEVMBackend`` with the VM classes made
by :func:`evmkiln.context.make_vm_class`.  Three ways in::

    EthereumTester(KilnBackend())                       # eth-tester
    Web3(EthereumTesterProvider(EthereumTester(KilnBackend())))   # web3.py
    ETHEREUM_TESTER_CHAIN_BACKEND=evmkiln.integrations.eth_tester.KilnBackend

The last is how eth-tester picks a backend when given none (it imports the
class at that dotted path and calls it with no arguments), and so how web3.py's
``EthereumTesterProvider()`` and Ape's local network pick it up with no code
change; ``EVMKILN_BACKEND`` and ``EVMKILN_FORK`` then choose the backend and
fork.

eth-tester rebuilds its chain in ``reset_to_genesis()`` (also on
construction), with its default VM class unless it is given a VM
configuration: the backend passes its own every time, so evmkiln's VM class
survives resets.  The default fork is eth-tester's own default, Prague.
"""

from __future__ import annotations

from typing import Any

try:
    from eth_tester import PyEVMBackend
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "evmkiln.integrations.eth_tester needs eth-tester with py-evm: "
        "pip install 'eth-tester[py-evm]'"
    ) from error

from evmkiln.builtins.keccak_backend import prefer_pysha3
from evmkiln.context import make_vm_class
from evmkiln.context.code_cache import DispatchStats
from evmkiln.integrations import (
    backend_from_environment,
    fork_from_environment,
    runtime_options,
)

# eth-hash picks its backend at its first hash (importing eth-tester makes none), and
# eth-tester, py-evm and eth-keys hash through it: pysha3's C Keccak when installed
# and nobody chose, for this process (its environment is left as it was).
prefer_pysha3(inherited=False)

ETH_TESTER_DEFAULT_FORK = "prague"
"""The fork of eth-tester's default VM configuration (``PragueVM`` from genesis)."""


SHARED_VM_CLASSES: dict[tuple[str, str, str, bool], type[Any]] = {}
"""VM classes by (backend, fork, runtime policy, out-of-gas replay), for backends made
without other options."""


def shared_vm_class(backend: str, fork: str, options: dict[str, Any]) -> type[Any]:
    """The VM class for ``backend`` and ``fork``, shared by every backend of this process
    made with the same runtime policy and no other option.

    A test suite makes a fresh chain (a new ``EthereumTester()``, hence a new
    backend) for nearly every test, and runs the same contracts in each: with
    a VM class per backend every test would compile them again.  Shared, the
    code cache (and the tiered runtime's counts) carry over from test to
    test; chains never share state, which lives in each chain's database.
    Any other option (``artifacts=``, ``opt_level=``, ...) gets a class of its own.
    """
    # eth-tester hands the error's text on (``TransactionFailed``), and test suites
    # match on it: a top frame that ran out of gas is replayed for py-evm's amounts.
    options = {"replay_out_of_gas": True, **options}
    if set(options) - {"runtime", "replay_out_of_gas"}:
        return make_vm_class(backend, fork, **options)
    key = (backend, fork, repr(options.get("runtime")), options["replay_out_of_gas"])
    vm_class = SHARED_VM_CLASSES.get(key)
    if vm_class is None:
        vm_class = SHARED_VM_CLASSES[key] = make_vm_class(backend, fork, **options)
    return vm_class


class KilnBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester is untyped
    """eth-tester's py-evm backend, with evmkiln's VM class from genesis on.

    ``backend`` and ``fork`` default to ``$EVMKILN_BACKEND`` / ``$EVMKILN_FORK``,
    then to ``"llvm"`` and eth-tester's default fork; ``options`` go to
    :func:`~evmkiln.context.make_vm_class` (``artifacts=``, ``opt_level=``,
    ``runtime=``, ...); without ``runtime=`` the tiered default policy runs
    (``$EVMKILN_RUNTIME=blocking`` compiles every code first).  Backends made
    with no option but ``runtime`` share their VM class (:func:`shared_vm_class`),
    so that compiled code outlives a test's chain.
    The other parameters are ``PyEVMBackend``'s.  An explicit
    ``vm_configuration`` is used as given (e.g. to run evmkiln on some blocks
    only).
    """

    def __init__(
        self,
        backend: str | None = None,
        fork: str | None = None,
        genesis_parameters: Any = None,
        genesis_state: Any = None,
        vm_configuration: Any = None,
        mnemonic: str | None = None,
        hd_path: str | None = None,
        **options: Any,
    ) -> None:
        self.vm_class = shared_vm_class(
            backend_from_environment(backend),
            fork_from_environment(fork, ETH_TESTER_DEFAULT_FORK),
            runtime_options(options),
        )
        self.kiln_vm_configuration = ((0, self.vm_class),)
        super().__init__(
            genesis_parameters=genesis_parameters,
            genesis_state=genesis_state,
            vm_configuration=vm_configuration,
            mnemonic=mnemonic,
            hd_path=hd_path,
        )

    def reset_to_genesis(
        self,
        genesis_params: Any = None,
        genesis_state: Any = None,
        num_accounts: int | None = None,
        vm_configuration: Any = None,
        mnemonic: str | None = None,
        hd_path: str | None = None,
    ) -> None:
        """eth-tester's reset, with evmkiln's VM configuration unless one is given."""
        super().reset_to_genesis(
            genesis_params,
            genesis_state,
            num_accounts,
            vm_configuration or self.kiln_vm_configuration,
            mnemonic,
            hd_path,
        )

    @property
    def _key_lookup(self) -> dict[bytes, Any]:
        """eth-tester's map from each account's address to its key (a fresh dict), its
        addresses derived once per tuple of keys.

        eth-tester derives every account's address (a Keccak each) from its key
        for every transaction it signs: ten Keccaks and their objects for one
        lookup.  Its keys are a tuple that adding an account replaces; another
        kind of collection is mapped anew each time, as eth-tester does.
        """
        keys = self.account_keys
        cached: tuple[Any, dict[bytes, Any]] | None = self.__dict__.get("_kiln_key_lookup")
        if cached is None or cached[0] is not keys or type(keys) is not tuple:
            cached = (keys, {key.public_key.to_canonical_address(): key for key in keys})
            self.__dict__["_kiln_key_lookup"] = cached
        return dict(cached[1])

    @property
    def stats(self) -> DispatchStats:
        """How this backend's frames ran: compiled, interpreted, compile failures."""
        stats: DispatchStats = self.vm_class.stats
        return stats
