"""Blob schedules price blob gas as py-evm does, whatever a fixture or a chain states."""

from __future__ import annotations

import threading

import pytest
from eth._utils.calculations import fake_exponential
from eth.vm.forks.cancun.constants import BLOB_BASE_FEE_UPDATE_FRACTION
from eth.vm.forks.prague.constants import BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE

from evmkiln.forks.blobs import CANCUN_BLOBS, PRAGUE_BLOBS, BlobSchedule


@pytest.mark.parametrize(
    ("schedule", "fraction"),
    [
        (CANCUN_BLOBS, BLOB_BASE_FEE_UPDATE_FRACTION),
        (PRAGUE_BLOBS, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE),
    ],
    ids=["cancun", "prague"],
)
@pytest.mark.parametrize("excess", [0, 1, 393_216, 10**7, 2**30])
def test_the_forks_schedules_price_as_pyevm(
    schedule: BlobSchedule, fraction: int, excess: int
) -> None:
    """The price py-evm's own forks ask, from py-evm's constants."""
    assert schedule.blob_base_fee(excess) == fake_exponential(1, excess, fraction)


def test_a_huge_excess_over_a_small_fraction_is_priced_in_bounded_time() -> None:
    """EIP-4844's series runs about ``excess / fraction`` terms: 2^64 over a fraction
    of one never ended.  py-evm stops after 9,999 terms, and so does every schedule."""
    prices: list[int] = []
    worker = threading.Thread(
        target=lambda: prices.append(BlobSchedule(1, 2, 1).blob_base_fee(2**64 - 1)),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=60)
    assert prices, "the blob base fee took more than a minute"
    assert prices[0] > 2**256
