"""Osaka's computation class: Prague's with CLZ and the new and repriced precompiles."""

from __future__ import annotations

from typing import Any

from eth._utils.address import force_bytes_to_address
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation

from evmkiln.forks.osaka.constants import P256VERIFY_ADDRESS
from evmkiln.forks.osaka.opcodes import OSAKA_OPCODES
from evmkiln.forks.osaka.precompiles import modexp, p256verify

MODEXP_ADDRESS = b"\x05"

OSAKA_PRECOMPILES: dict[bytes, Any] = {
    **PRAGUE_PRECOMPILES,
    force_bytes_to_address(MODEXP_ADDRESS): modexp,
    force_bytes_to_address(P256VERIFY_ADDRESS): p256verify,
}


class OsakaComputation(PragueComputation):
    """Execution of one frame under Osaka's rules."""

    opcodes = OSAKA_OPCODES
    _precompiles = OSAKA_PRECOMPILES
