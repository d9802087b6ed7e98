"""Memory expansion against py-evm's memory price and the documented cap."""

from __future__ import annotations

import pytest
from eth.vm.computation import memory_gas_cost
from hypothesis import given
from hypothesis import strategies as st

from evmkiln.builtins import memory
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.memory import (
    MEMORY_LIMIT,
    copy_words_gas,
    expand,
    memory_cost,
    read,
    write,
    write_padded,
)


def _frame(gas: int = 10**9, memory: bytes = b"") -> Frame:
    return Frame(
        host=None,  # type: ignore[arg-type]  # memory never reaches the host
        gas=gas,
        code=b"",
        calldata=b"",
        address=b"\x00" * 20,
        caller=b"\x00" * 20,
        value=0,
        is_static=False,
        depth=0,
        memory=bytearray(memory),
    )


def test_hand_computed_prices() -> None:
    frame = _frame(gas=1000)
    expand(frame, 0, 32)  # one word: 3
    assert (frame.gas, len(frame.memory)) == (997, 32)
    expand(frame, 31, 2)  # reaches into the second word: 6 - 3
    assert (frame.gas, len(frame.memory)) == (994, 64)
    expand(frame, 0, 64)  # already there: free
    assert frame.gas == 994
    frame = _frame(gas=10**6)
    expand(frame, 0, 32 * 1024)  # 1024 words: 3*1024 + 1024*1024//512
    assert frame.gas == 10**6 - (3072 + 2048)


@given(st.integers(0, 2**20), st.integers(0, 2**20))
def test_price_matches_pyevm(before: int, after: int) -> None:
    assert memory_cost((before + 31) // 32) == memory_gas_cost(before)
    frame = _frame(memory=bytes((before + 31) // 32 * 32))
    gas = frame.gas
    expand(frame, 0, after)
    old_size = (before + 31) // 32 * 32
    new_size = max(old_size, (after + 31) // 32 * 32) if after else old_size
    assert len(frame.memory) == new_size
    assert gas - frame.gas == memory_gas_cost(new_size) - memory_gas_cost(old_size)


def test_size_zero_never_expands_whatever_the_offset() -> None:
    frame = _frame(gas=0)
    expand(frame, 2**256 - 1, 0)
    assert (frame.gas, len(frame.memory)) == (0, 0)


def test_exact_gas_suffices_and_one_less_halts() -> None:
    frame = _frame(gas=3)
    expand(frame, 0, 1)
    assert (frame.gas, len(frame.memory)) == (0, 32)
    frame = _frame(gas=2)
    with pytest.raises(ExceptionalHalt) as info:
        expand(frame, 0, 1)
    assert info.value.kind is HaltKind.OUT_OF_GAS
    assert (frame.gas, len(frame.memory)) == (2, 0)


def test_cap_halts_even_with_unbounded_gas() -> None:
    assert MEMORY_LIMIT == 2**32
    frame = _frame(gas=2**255)
    for offset, size in ((MEMORY_LIMIT, 1), (0, MEMORY_LIMIT + 1), (2**255, 2**255)):
        with pytest.raises(ExceptionalHalt) as info:
            expand(frame, offset, size)
        assert info.value.kind is HaltKind.OUT_OF_GAS
    assert (frame.gas, len(frame.memory)) == (2**255, 0)


def test_cap_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    # The boundary logic at a scale that does not allocate 4 GiB.
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 1024)
    frame = _frame(gas=2**255)
    expand(frame, 1023, 1)  # ends exactly at the cap: allowed
    assert len(frame.memory) == 1024
    with pytest.raises(ExceptionalHalt):
        expand(frame, 1024, 1)
    assert len(frame.memory) == 1024


def test_copy_words_gas() -> None:
    assert [copy_words_gas(n) for n in (0, 1, 32, 33, 64)] == [0, 3, 3, 6, 6]


def test_read_write_and_padded_copy() -> None:
    frame = _frame(memory=bytes(64))
    write(frame, 3, b"abc")
    assert read(frame, 2, 5) == b"\x00abc\x00"
    assert read(frame, 2**200, 0) == b""
    frame.memory[:] = b"\xff" * 64
    write_padded(frame, 0, b"hello", 3, 6)  # "lo" then four zeros
    assert bytes(frame.memory[:8]) == b"lo\x00\x00\x00\x00\xff\xff"
    write_padded(frame, 10, b"hello", 2**255, 4)  # source start past the end: zeros
    assert bytes(frame.memory[9:15]) == b"\xff\x00\x00\x00\x00\xff"
    write_padded(frame, 20, b"hello", 0, 5)
    assert bytes(frame.memory[20:25]) == b"hello"
