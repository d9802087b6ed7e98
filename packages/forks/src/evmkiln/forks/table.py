"""The forks evmkiln runs, each as the py-evm classes that define it.

A fork is data: its name, the key of its entries in state-test ``post``
sections, its py-evm VM class (from which the state and computation classes
follow), its blob schedule and the few facts about it that code outside
py-evm must know (does a call follow EIP-7702 delegations?).  Everything
that builds on a fork -- evmkiln's compiled-frame classes, the state-test
runner's baseline -- reads this table instead of naming py-evm classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evmkiln.forks.blobs import CANCUN_BLOBS, PRAGUE_BLOBS, BlobSchedule


@dataclass(frozen=True, slots=True)
class ForkSpec:
    """One fork."""

    name: str
    """Lower-case name, as ``make_vm_class(fork=...)`` and ``--fork`` take it."""
    post_key: str
    """Key of the fork's cases in a state test's ``post`` section."""
    vm_class: type[Any]
    blob_schedule: BlobSchedule
    delegations: bool
    """EIP-7702: calls to an account whose code is a delegation designation run
    the delegate's code (and pay for accessing it)."""
    tx_gas_cap: int | None = None
    """EIP-7825: the largest gas limit a transaction may have (``None``: no cap)."""

    @property
    def state_class(self) -> type[Any]:
        state: type[Any] = self.vm_class.get_state_class()
        return state

    @property
    def computation_class(self) -> type[Any]:
        computation: type[Any] = self.state_class.computation_class
        return computation


def _cancun() -> ForkSpec:
    from eth.vm.forks.cancun import CancunVM

    return ForkSpec("cancun", "Cancun", CancunVM, CANCUN_BLOBS, delegations=False)


def _prague() -> ForkSpec:
    # py-evm's Prague with native BLS12-381 precompiles (evmkiln.forks.prague).
    from evmkiln.forks.prague import KilnPragueVM

    return ForkSpec("prague", "Prague", KilnPragueVM, PRAGUE_BLOBS, delegations=True)


def _osaka() -> ForkSpec:
    from evmkiln.forks.osaka import OsakaVM
    from evmkiln.forks.osaka.constants import OSAKA_BLOBS, TX_GAS_LIMIT_CAP

    return ForkSpec(
        "osaka", "Osaka", OsakaVM, OSAKA_BLOBS, delegations=True, tx_gas_cap=TX_GAS_LIMIT_CAP
    )


_MAKERS = {"cancun": _cancun, "prague": _prague, "osaka": _osaka}
_MADE: dict[str, ForkSpec] = {}

SUPPORTED_FORKS: tuple[str, ...] = tuple(_MAKERS)
"""Oldest first."""
DEFAULT_FORK = "osaka"
"""The latest mainnet fork evmkiln supports: what ``make_vm_class`` and
``evmkiln compile`` use unless told otherwise."""


def fork_spec(name: str) -> ForkSpec:
    """The fork called ``name`` (case-insensitive); ``ValueError`` for any other name.

    A fork's py-evm modules are imported on first use only.
    """
    if not isinstance(name, str):
        known = ", ".join(SUPPORTED_FORKS)
        raise ValueError(f"a fork is named by a string ({known}), not {name!r}")
    key = name.lower()
    made = _MADE.get(key)
    if made is None:
        maker = _MAKERS.get(key)
        if maker is None:
            raise ValueError(
                f"unsupported fork {name!r}: evmkiln supports {', '.join(SUPPORTED_FORKS)}"
            )
        made = _MADE[key] = maker()
    return made
