"""Builtins that expand and copy memory agree with py-evm, gas edge included.

Offsets and sizes mix small values (where the interesting boundaries are)
with huge stack words; gas mixes "plenty" with amounts just around what the
operation needs, so out-of-gas boundaries are exercised.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth.exceptions import OutOfBoundsRead, OutOfGas, WriteProtection
from hypothesis import given, settings
from hypothesis import strategies as st
from opcode_harness import CONTRACT, EMPTY, GAS, OTHER, PRECOMPILE, Account, Setup, compare
from sample_code import RETURNER

MEMORY = bytes(range(256)) * 2  # 512 bytes of recognisable memory
CALLDATA = bytes(range(100, 180))
RETURNDATA = bytes(range(40, 90))

small = st.integers(0, 700)
huge = st.sampled_from([2**32 - 1, 2**32, 2**64, 2**255, 2**256 - 1])
word = small | huge
size = st.integers(0, 200) | huge


def _edges(setup: Setup, name: str, args: tuple[int, ...], extra: tuple[bytes, ...] = ()) -> None:
    """Compare with plenty of gas, then with exactly enough and one less."""
    full = compare(setup, name, args, extra)
    if full.error is None:
        needed = setup.gas - (full.gas_left or 0)
        exact = compare(replace(setup, gas=needed), name, args, extra)
        assert exact.error is None and exact.gas_left == 0
        if needed > 0:
            short = compare(replace(setup, gas=needed - 1), name, args, extra)
            assert short.error is OutOfGas


BASE = Setup(memory=MEMORY, calldata=CALLDATA, returndata=RETURNDATA, code=RETURNER)


@given(dest=word, offset=word, size=size)
@settings(max_examples=60, deadline=None)
def test_calldatacopy(dest: int, offset: int, size: int) -> None:
    _edges(BASE, "calldatacopy", (dest, offset, size))


@given(dest=word, offset=word, size=size)
@settings(max_examples=60, deadline=None)
def test_codecopy(dest: int, offset: int, size: int) -> None:
    _edges(BASE, "codecopy", (dest, offset, size))


@given(dest=word, offset=st.integers(0, 60) | huge, size=st.integers(0, 60) | huge)
@settings(max_examples=80, deadline=None)
def test_returndatacopy(dest: int, offset: int, size: int) -> None:
    _edges(BASE, "returndatacopy", (dest, offset, size))


def test_returndatacopy_out_of_bounds_halts_even_when_empty() -> None:
    assert compare(BASE, "returndatacopy", (0, len(RETURNDATA) + 1, 0)).error is OutOfBoundsRead
    assert compare(BASE, "returndatacopy", (0, 0, len(RETURNDATA) + 1)).error is OutOfBoundsRead
    assert compare(BASE, "returndatacopy", (2**256 - 1, len(RETURNDATA), 0)).error is None


@given(dest=word, src=word, size=size)
@settings(max_examples=80, deadline=None)
def test_mcopy(dest: int, src: int, size: int) -> None:
    _edges(BASE, "mcopy", (dest, src, size))


def test_mcopy_overlapping() -> None:
    outcome = compare(BASE, "mcopy", (1, 0, 64))
    assert outcome.memory[1:65] == MEMORY[0:64]


@given(offset=word, size=size)
@settings(max_examples=60, deadline=None)
def test_keccak256(offset: int, size: int) -> None:
    _edges(BASE, "keccak256", (offset, size))


@given(
    topics=st.integers(0, 4),
    offset=word,
    size=st.integers(0, 100) | huge,
    static=st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_logs(topics: int, offset: int, size: int, static: bool) -> None:
    setup = replace(BASE, is_static=static)
    args = (offset, size, *(0x1000 + i for i in range(topics)))
    _edges(setup, f"log{topics}", args)


def test_log_records_topics_in_stack_order() -> None:
    outcome = compare(BASE, "log2", (0, 4, 0x11, 0x22))
    assert outcome.logs == ((CONTRACT, (0x11, 0x22), MEMORY[:4]),)
    assert compare(replace(BASE, is_static=True), "log0", (0, 0)).error is WriteProtection


@pytest.mark.parametrize("target", ["other", "empty", "self", "precompile"])
@pytest.mark.parametrize("warm", [False, True])
def test_extcodecopy(target: str, warm: bool) -> None:
    address = {"other": OTHER, "empty": EMPTY, "self": CONTRACT, "precompile": PRECOMPILE}[target]
    setup = replace(
        BASE,
        accounts={OTHER: Account(code=RETURNER)},
        warm_addresses=[address] if warm else [],
    )
    word_address = int.from_bytes(address, "big") | (0xFFFF << 160)  # high bits ignored
    for dest, offset, size in ((0, 0, 45), (3, 30, 40), (600, 2**256 - 1, 7), (0, 0, 0)):
        _edges(setup, "extcodecopy", (word_address, dest, offset, size), (address,))


@given(dest=word, offset=word, size=size)
@settings(max_examples=40, deadline=None)
def test_extcodecopy_any_range(dest: int, offset: int, size: int) -> None:
    setup = replace(BASE, accounts={OTHER: Account(code=RETURNER)})
    _edges(setup, "extcodecopy", (int.from_bytes(OTHER, "big"), dest, offset, size))


def test_hand_computed_copy_price() -> None:
    # Static 3; memory grows from 16 to 22 words: (3*22 + 0) - (3*16 + 0) = 18;
    # 22 copied words at 3 each = 66.
    assert compare(BASE, "calldatacopy", (0, 0, 700)).gas_left == GAS - 3 - 18 - 66
