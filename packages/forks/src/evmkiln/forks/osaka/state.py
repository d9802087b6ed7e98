"""Osaka's state class: transaction limits of EIP-7825 and EIP-7594, schedule-driven blob fee."""

from __future__ import annotations

from typing import Any, ClassVar

from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.prague.state import PragueState
from eth_utils.exceptions import ValidationError

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.osaka.computation import OsakaComputation
from evmkiln.forks.osaka.constants import MAX_BLOBS_PER_TX, OSAKA_BLOBS, TX_GAS_LIMIT_CAP


class OsakaState(PragueState):
    """Prague's state with Osaka's transaction validity rules.

    ``blob_schedule`` is a class attribute so that a chain (or a fixture's
    ``config``) with other blob parameters is a subclass, not a patch.
    """

    computation_class = OsakaComputation
    blob_schedule: ClassVar[BlobSchedule] = OSAKA_BLOBS

    @property
    def blob_base_fee(self) -> int:
        return self.blob_schedule.blob_base_fee(self.execution_context.excess_blob_gas or 0)

    def validate_transaction(self, transaction: Any) -> None:
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
        super().validate_transaction(transaction)
