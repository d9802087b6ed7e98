"""Prague as evmkiln runs it: py-evm's Prague with native BLS12-381 precompiles.

py-evm's Prague is right but for EIP-2537's precompiles, which it computes
in pure Python (seconds per pairing, minutes per large multi-scalar
multiplication).  Each class here subclasses py-evm's and replaces only the
precompile table (:mod:`evmkiln.forks.bls12_381`); py-evm's other Prague
gaps stay as they are, so the ``pyevm`` baseline of the Prague fork is py-evm
but for the precompiles evmkiln owns.
"""

from __future__ import annotations

from typing import Any

from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.state import PragueState

from evmkiln.forks.bls12_381 import bls12_381_precompiles

KILN_PRAGUE_PRECOMPILES: dict[bytes, Any] = {**PRAGUE_PRECOMPILES, **bls12_381_precompiles()}


class KilnPragueComputation(PragueComputation):
    """Prague's computation with the BLS12-381 precompiles on a native library."""

    _precompiles = KILN_PRAGUE_PRECOMPILES


class KilnPragueState(PragueState):
    computation_class = KilnPragueComputation


class KilnPragueVM(PragueVM):
    _state_class = KilnPragueState


__all__ = ["KilnPragueComputation", "KilnPragueState", "KilnPragueVM"]
