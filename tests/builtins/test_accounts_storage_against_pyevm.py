"""Account reads, SLOAD/SSTORE and transient storage agree with py-evm."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from eth.exceptions import OutOfGas, WriteProtection
from opcode_harness import (
    CONTRACT,
    EMPTY,
    GAS,
    OTHER,
    PRECOMPILE,
    Account,
    Setup,
    compare,
)
from sample_code import RETURNER

TOUCHED_EMPTY = (0xE0).to_bytes(20, "big")  # exists in the trie, but empty
RICH = (0x5C).to_bytes(20, "big")  # balance only

ACCOUNTS = {
    OTHER: Account(balance=5, nonce=1, code=RETURNER),
    TOUCHED_EMPTY: Account(),
    RICH: Account(balance=10**18),
}
TARGETS = [CONTRACT, OTHER, EMPTY, TOUCHED_EMPTY, RICH, PRECOMPILE]


def _edges(setup: Setup, name: str, args: tuple[int, ...]) -> None:
    full = compare(setup, name, args)
    assert full.error is None
    needed = setup.gas - (full.gas_left or 0)
    assert compare(replace(setup, gas=needed), name, args).gas_left == 0
    assert compare(replace(setup, gas=needed - 1), name, args).error is OutOfGas


@pytest.mark.parametrize("name", ["balance", "extcodesize", "extcodehash"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("warm", [False, True])
def test_account_reads(name: str, target: bytes, warm: bool) -> None:
    setup = Setup(accounts=ACCOUNTS, warm_addresses=[target] if warm else [])
    word = int.from_bytes(target, "big") | (0xABC << 160)
    _edges(setup, name, (word,))


def test_access_prices() -> None:
    setup = Setup(accounts=ACCOUNTS)
    word = int.from_bytes(OTHER, "big")
    assert compare(setup, "balance", (word,)).gas_left == GAS - 2600
    assert compare(replace(setup, warm_addresses=[OTHER]), "balance", (word,)).gas_left == GAS - 100
    # Precompiles and the caller-independent coinbase start warm.
    assert compare(setup, "balance", (4,)).gas_left == GAS - 100
    assert compare(setup, "extcodehash", (int.from_bytes(EMPTY, "big"),)).result == 0


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("slot", [0, 1, 2**256 - 1])
def test_sload(warm: bool, slot: int) -> None:
    setup = Setup(
        accounts={CONTRACT: Account(storage={0: 5, 2**256 - 1: 9})},
        warm_slots=[(CONTRACT, slot)] if warm else [],
    )
    _edges(setup, "sload", (slot,))


# EIP-2200's cases: (original, current, new) over {0, 1, 2}, cold and warm.
SSTORE_CASES = [
    (o, c, n, warm) for o, c, n in itertools.product((0, 1, 2), repeat=3) for warm in (False, True)
]


@pytest.mark.parametrize(("original", "current", "new", "warm"), SSTORE_CASES)
def test_sstore_matrix(original: int, current: int, new: int, warm: bool) -> None:
    setup = Setup(
        accounts={CONTRACT: Account(storage={0: original} if original else {})},
        dirty_storage={(CONTRACT, 0): current} if current != original else {},
        warm_slots=[(CONTRACT, 0)] if warm else [],
    )
    full = compare(setup, "sstore", (0, new))
    assert full.error is None
    needed = GAS - (full.gas_left or 0)
    for gas in (needed, needed - 1, 2300, 2301, 2302):
        compare(replace(setup, gas=gas), "sstore", (0, new))


def test_sstore_hand_computed() -> None:
    fresh = Setup()
    # Cold write of a new non-zero value: 2100 + 20000.
    assert compare(fresh, "sstore", (0, 1)).gas_left == GAS - 22100
    # Clearing a clean slot, warm: 2900 charged, 4800 refunded.
    clear = Setup(accounts={CONTRACT: Account(storage={0: 1})}, warm_slots=[(CONTRACT, 0)])
    outcome = compare(clear, "sstore", (0, 0))
    assert (outcome.gas_left, outcome.refund) == (GAS - 2900, 4800)
    # Restoring a dirty slot to its original zero: refund 20000 - 100.
    restore = Setup(dirty_storage={(CONTRACT, 0): 1}, warm_slots=[(CONTRACT, 0)])
    outcome = compare(restore, "sstore", (0, 0))
    assert (outcome.gas_left, outcome.refund) == (GAS - 100, 19900)
    # Undoing an earlier clear takes the refund back: negative within the frame.
    unclear = Setup(
        accounts={CONTRACT: Account(storage={0: 1})},
        dirty_storage={(CONTRACT, 0): 0},
        warm_slots=[(CONTRACT, 0)],
    )
    assert compare(unclear, "sstore", (0, 2)).refund == -4800


def test_sstore_sentry_and_static() -> None:
    assert compare(Setup(gas=2300), "sstore", (0, 0)).error is OutOfGas
    assert compare(Setup(gas=10**6, is_static=True), "sstore", (0, 0)).error is WriteProtection


@pytest.mark.parametrize("slot", [0, 3, 2**256 - 1])
def test_transient_storage(slot: int) -> None:
    setup = Setup(transient={(CONTRACT, 3): 0x1234, (OTHER, 0): 7})
    loaded = compare(setup, "tload", (slot,))
    assert loaded.result == (0x1234 if slot == 3 else 0)
    for value in (0, 1, 2**256 - 1):
        stored = compare(setup, "tstore", (slot % 4, value))
        assert stored.error is None
    assert compare(replace(setup, is_static=True), "tstore", (0, 1)).error is WriteProtection
    assert compare(replace(setup, is_static=True), "tload", (3,)).result == 0x1234
