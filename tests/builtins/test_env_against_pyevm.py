"""Environment builtins give what py-evm's opcodes push."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opcode_harness import BLOCK_NUMBER, CONTRACT, Account, Setup, compare

CALLDATA = bytes(range(1, 70))

NO_ARG = [
    "address",
    "caller",
    "callvalue",
    "calldatasize",
    "returndatasize",
    "origin",
    "gasprice",
    "coinbase",
    "timestamp",
    "number",
    "prevrandao",
    "gaslimit",
    "chainid",
    "selfbalance",
    "basefee",
    "blobbasefee",
]


@pytest.mark.parametrize("name", NO_ARG)
def test_no_argument_reads(name: str) -> None:
    setup = Setup(
        accounts={CONTRACT: Account(balance=12345)},
        value=777,
        calldata=CALLDATA,
        returndata=b"\x01\x02\x03",
    )
    outcome = compare(setup, name, ())
    assert outcome.error is None
    assert outcome.result is not None


def test_reads_are_not_trivially_zero() -> None:
    setup = Setup(accounts={CONTRACT: Account(balance=12345)}, value=777, calldata=CALLDATA)
    assert compare(setup, "selfbalance", ()).result == 12345
    assert compare(setup, "callvalue", ()).result == 777
    assert compare(setup, "calldatasize", ()).result == len(CALLDATA)
    assert compare(setup, "number", ()).result == BLOCK_NUMBER
    assert compare(setup, "address", ()).result == int.from_bytes(CONTRACT, "big")


@pytest.mark.parametrize("offset", [0, 1, 37, 38, 68, 69, 70, 1000, 2**64, 2**256 - 1])
def test_calldataload(offset: int) -> None:
    compare(Setup(calldata=CALLDATA), "calldataload", (offset,))


@given(st.integers(0, 2**256 - 1) | st.integers(0, 100))
@settings(max_examples=50, deadline=None)
def test_calldataload_any_offset(offset: int) -> None:
    compare(Setup(calldata=CALLDATA), "calldataload", (offset,))


WINDOW_EDGES = [BLOCK_NUMBER - 257, BLOCK_NUMBER - 256, BLOCK_NUMBER - 1, BLOCK_NUMBER]


@pytest.mark.parametrize("number", [0, 1, *WINDOW_EDGES, 10**6, 2**256 - 1])
def test_blockhash_window(number: int) -> None:
    outcome = compare(Setup(), "blockhash", (number,))
    in_window = BLOCK_NUMBER - 256 <= number < BLOCK_NUMBER
    assert (outcome.result != 0) == in_window


@pytest.mark.parametrize("index", [0, 1, 2, 3, 2**256 - 1])
def test_blobhash(index: int) -> None:
    hashes = [b"\x01" + bytes([i]) * 31 for i in (7, 8, 9)]
    outcome = compare(Setup(blob_hashes=hashes), "blobhash", (index,))
    assert (outcome.result != 0) == (index < 3)
