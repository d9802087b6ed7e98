"""Osaka, as a py-evm fork layered on evmkiln's Prague (py-evm's, corrected).

py-evm 0.12 stops at Prague.  Each class here subclasses its Prague
counterpart (:mod:`evmkiln.forks.prague`, which carries the rules py-evm
gets wrong: transaction validity, EIP-7610 collisions, native BLS12-381
precompiles) and overrides only what Osaka changed, the way py-evm adds forks:

* :class:`OsakaComputation` -- CLZ (EIP-7939) in the opcode table, MODEXP's
  bounds and price (EIP-7823, EIP-7883), P256VERIFY at 0x100 (EIP-7951);
* :class:`OsakaState` -- the transaction gas limit cap (EIP-7825), at most
  six blobs per transaction (EIP-7594), a blob base fee from the fork's
  schedule;
* :class:`OsakaVM` -- headers whose excess blob gas follows EIP-7918.

Prague's transaction executor, transaction classes and block classes are
unchanged by Osaka and used as they are.
"""

from __future__ import annotations

from typing import Any

from eth.vm.forks.cancun.state import get_total_blob_gas
from eth_utils.exceptions import ValidationError

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.osaka.computation import OsakaComputation
from evmkiln.forks.osaka.constants import OSAKA_BLOBS
from evmkiln.forks.osaka.headers import calc_excess_blob_gas_osaka, create_osaka_header_from_parent
from evmkiln.forks.osaka.state import OsakaState
from evmkiln.forks.prague import KilnPragueVM


class OsakaVM(KilnPragueVM):
    fork = "osaka"
    _state_class = OsakaState
    create_header_from_parent = staticmethod(create_osaka_header_from_parent)

    def validate_block_blobs(self, block: Any) -> None:
        """Prague's check with Osaka's excess blob gas and the state's schedule."""
        from eth._utils.db import get_block_header_by_hash

        parent = get_block_header_by_hash(block.header.parent_hash, self.chaindb)
        schedule: BlobSchedule = getattr(self.get_state_class(), "blob_schedule", OSAKA_BLOBS)
        if block.header.excess_blob_gas != calc_excess_blob_gas_osaka(parent, schedule):
            raise ValidationError("Block excess blob gas was not updated correctly.")
        used = sum(get_total_blob_gas(tx) for tx in block.transactions)
        if used > schedule.max_blob_gas_per_block:
            raise ValidationError("Block exceeded maximum blob gas limit.")
        if block.header.blob_gas_used != used:
            raise ValidationError(
                f"Block blob gas used ({block.header.blob_gas_used}) does not match "
                f"total blob gas used ({used})."
            )


__all__ = ["OsakaComputation", "OsakaState", "OsakaVM"]
