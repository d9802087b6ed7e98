"""Osaka's state class: EIP-7825's and EIP-7594's transaction limits, schedule-driven blob fee."""

from __future__ import annotations

from typing import Any, ClassVar

from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth_utils.exceptions import ValidationError

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.osaka.computation import OsakaComputation
from evmkiln.forks.osaka.constants import MAX_BLOBS_PER_TX, OSAKA_BLOBS, TX_GAS_LIMIT_CAP
from evmkiln.forks.prague import KilnPragueState


def validate_osaka_limits(transaction: Any) -> None:
    """Osaka's own limits: EIP-7825's gas cap and EIP-7594's blobs per transaction."""
    if transaction.gas > TX_GAS_LIMIT_CAP:
        raise ValidationError(
            f"transaction gas limit {transaction.gas} exceeds the cap {TX_GAS_LIMIT_CAP}"
        )
    if transaction.type_id == BLOB_TX_TYPE:
        blobs = len(transaction.blob_versioned_hashes)
        if blobs > MAX_BLOBS_PER_TX:
            raise ValidationError(
                f"blob transaction has {blobs} blobs, at most {MAX_BLOBS_PER_TX} allowed"
            )


class OsakaState(KilnPragueState):
    """evmkiln's Prague state with Osaka's transaction validity rules.

    ``blob_schedule`` is a class attribute so that a chain (or a fixture's
    ``config``) with other blob parameters is a subclass, not a patch.
    """

    computation_class = OsakaComputation
    blob_schedule: ClassVar[BlobSchedule] = OSAKA_BLOBS

    @property
    def blob_base_fee(self) -> int:
        return self.blob_schedule.blob_base_fee(self.execution_context.excess_blob_gas or 0)

    def validate_transaction(self, transaction: Any) -> None:
        """Osaka's limits, then Prague's rules (evmkiln's, then py-evm's)."""
        validate_osaka_limits(transaction)
        super().validate_transaction(transaction)
