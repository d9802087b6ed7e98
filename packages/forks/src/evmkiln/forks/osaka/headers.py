"""EIP-7918: the excess blob gas of a block, given its parent.

When blob gas is far cheaper than execution gas, the blob base fee no longer
falls: the excess only grows by the share of blob gas above the target.
"""

from __future__ import annotations

from typing import Any

from eth.vm.forks.prague.headers import create_prague_header_from_parent

from evmkiln.forks.blobs import GAS_PER_BLOB, BlobSchedule
from evmkiln.forks.osaka.constants import BLOB_BASE_COST, OSAKA_BLOBS


def calc_excess_blob_gas_osaka(parent_header: Any, schedule: BlobSchedule = OSAKA_BLOBS) -> int:
    excess = int(getattr(parent_header, "excess_blob_gas", 0) or 0)
    used = int(getattr(parent_header, "blob_gas_used", 0) or 0)
    target = schedule.target_blob_gas_per_block
    if excess + used < target:
        return 0
    blob_fee = schedule.blob_base_fee(excess)
    if BLOB_BASE_COST * parent_header.base_fee_per_gas > GAS_PER_BLOB * blob_fee:
        return excess + used * (schedule.max - schedule.target) // schedule.max
    return excess + used - target


def create_osaka_header_from_parent(parent_header: Any, **header_params: Any) -> Any:
    """Prague's header, with the excess blob gas of EIP-7918."""
    header = create_prague_header_from_parent(parent_header, **header_params)
    if parent_header is None:
        return header
    return header.copy(excess_blob_gas=calc_excess_blob_gas_osaka(parent_header))
