"""Osaka's computation class: Prague's with CLZ and the new and repriced precompiles.

The BLS12-381 precompiles are Prague's (EIP-2537) on a native library
(:mod:`evmkiln.forks.bls12_381`) instead of py-evm's pure-Python ones.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import force_bytes_to_address
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation

from evmkiln.forks.bls12_381 import bls12_381_precompiles
from evmkiln.forks.osaka.constants import P256VERIFY_ADDRESS
from evmkiln.forks.osaka.opcodes import OSAKA_OPCODES
from evmkiln.forks.osaka.precompiles import modexp, p256verify

MODEXP_ADDRESS = b"\x05"

OSAKA_PRECOMPILES: dict[bytes, Any] = {
    **PRAGUE_PRECOMPILES,
    **bls12_381_precompiles(),
    force_bytes_to_address(MODEXP_ADDRESS): modexp,
    force_bytes_to_address(P256VERIFY_ADDRESS): p256verify,
}


class OsakaComputation(PragueComputation):
    """Execution of one frame under Osaka's rules."""

    opcodes = OSAKA_OPCODES
    _precompiles = OSAKA_PRECOMPILES
