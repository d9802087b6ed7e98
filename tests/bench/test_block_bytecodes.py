"""scripts/block_bytecodes.py: the Python bytecodes of mining a block, by function."""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM
from script_modules import load_script

from evmkiln.context import make_vm_class


def test_blocks_are_counted_for_both_shapes_and_both_vms(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script("block_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_BLOCKS", 2)
    kiln = make_vm_class("ir", fork="cancun")
    one = script.count_bytecodes(kiln, 1, 0)
    assert any(where.startswith("evmkiln/context/block_") for where in one)
    assert all(count > 0 for count in one.values())
    stock = script.count_bytecodes(CancunVM, 1, 0)
    assert not any(where.startswith("evmkiln/") for where in stock)
    # Building the block is py-evm's, at its seams, with less Python around it.
    assert sum(one.values()) < sum(stock.values())
    # mine_all of four transactions runs four messages and more envelope than one.
    assert sum(script.count_bytecodes(kiln, 0, 4).values()) > sum(
        script.count_bytecodes(kiln, 0, 1).values()
    )


def test_timing_gives_a_positive_median(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script("block_bytecodes")
    monkeypatch.setattr(script, "WARM_UP_BLOCKS", 1)
    assert 0 < script.time_blocks(CancunVM, 1, 0, 3) < 60
