"""Osaka's computation class: Prague's with CLZ and the new and repriced precompiles.

Built on evmkiln's Prague computation, whose BLS12-381 precompiles
(EIP-2537) run on a native library instead of py-evm's pure Python.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import force_bytes_to_address

from evmkiln.forks.osaka.constants import P256VERIFY_ADDRESS
from evmkiln.forks.osaka.opcodes import OSAKA_OPCODES
from evmkiln.forks.osaka.precompiles import modexp, p256verify
from evmkiln.forks.prague import KILN_PRAGUE_PRECOMPILES, KilnPragueComputation

MODEXP_ADDRESS = b"\x05"

OSAKA_PRECOMPILES: dict[bytes, Any] = {
    **KILN_PRAGUE_PRECOMPILES,
    force_bytes_to_address(MODEXP_ADDRESS): modexp,
    force_bytes_to_address(P256VERIFY_ADDRESS): p256verify,
}


class OsakaComputation(KilnPragueComputation):
    """Execution of one frame under Osaka's rules."""

    opcodes = OSAKA_OPCODES
    _precompiles = OSAKA_PRECOMPILES
