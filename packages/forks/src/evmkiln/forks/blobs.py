"""Blob schedules: how many blobs a block may carry and how fast their price moves.

Cancun fixed these numbers in code; Prague changed them (EIP-7691) and from
Osaka on they are configuration (EIP-7840), which execution-spec-tests
fixtures state per fork in ``config.blobSchedule``.  A schedule is therefore
a value here, carried by the fork and replaceable by a fixture's, rather than
constants scattered through validation code.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth._utils.calculations import fake_exponential

GAS_PER_BLOB = 2**17
"""EIP-4844: the blob gas one blob uses."""
MIN_BLOB_BASE_FEE = 1


@dataclass(frozen=True, slots=True)
class BlobSchedule:
    """A fork's blob parameters (EIP-7840's names)."""

    target: int
    """Blobs per block the base fee aims for."""
    max: int
    """Most blobs a block may carry."""
    base_fee_update_fraction: int

    @property
    def max_blob_gas_per_block(self) -> int:
        return self.max * GAS_PER_BLOB

    @property
    def target_blob_gas_per_block(self) -> int:
        return self.target * GAS_PER_BLOB

    def blob_base_fee(self, excess_blob_gas: int) -> int:
        """EIP-4844's price of one unit of blob gas for a block's excess blob gas.

        py-evm's ``fake_exponential``, which every fork it ships prices blobs
        with: it stops after 9,999 terms, where EIP-4844's loop runs about
        ``excess / fraction`` times -- for an excess of 2^64 over a small
        fraction, longer than anyone would wait, for a price far beyond 2^256.
        Below that the two agree.
        """
        return fake_exponential(MIN_BLOB_BASE_FEE, excess_blob_gas, self.base_fee_update_fraction)


CANCUN_BLOBS = BlobSchedule(target=3, max=6, base_fee_update_fraction=3_338_477)
PRAGUE_BLOBS = BlobSchedule(target=6, max=9, base_fee_update_fraction=5_007_716)
"""EIP-7691; Osaka keeps it (later forks change it by configuration only)."""
