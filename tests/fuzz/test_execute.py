"""The transaction harness: the same transaction gives the same outcome, whenever it runs."""

from __future__ import annotations

from eth.vm.forks.cancun import CancunVM

from evmkiln.fuzz.asm import asm
from evmkiln.fuzz.execute import BLOCK_INTERVAL, CONTRACT_A, execute

TIMESTAMP_AND_NUMBER = asm("TIMESTAMP", 0, "MSTORE", "NUMBER", 32, "MSTORE", 64, 0, "RETURN")


def test_the_block_is_dated_by_the_genesis_not_the_clock() -> None:
    """py-evm would date the block ``time.time()``: a reference run and an engine's run a
    second apart then disagree on any program that stores TIMESTAMP (found by fuzzing)."""
    outcome = execute(CancunVM, {CONTRACT_A: TIMESTAMP_AND_NUMBER})
    assert int.from_bytes(outcome.output[:32], "big") == 1_700_000_000 + BLOCK_INTERVAL
    assert int.from_bytes(outcome.output[32:], "big") == 1
    assert execute(CancunVM, {CONTRACT_A: TIMESTAMP_AND_NUMBER}) == outcome
