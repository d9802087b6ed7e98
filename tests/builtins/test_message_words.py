"""The message words both native backends write for every frame."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evmkiln.builtins.message_words import message_words


@given(
    value=st.integers(0, 2**256 - 1),
    caller=st.binary(min_size=0, max_size=32),
    address=st.binary(min_size=0, max_size=32),
)
def test_message_words_are_the_three_little_endian_words(
    value: int, caller: bytes, address: bytes
) -> None:
    words = message_words(value, caller, address)
    assert len(words) == 96
    assert int.from_bytes(words[:32], "little") == value
    assert int.from_bytes(words[32:64], "little") == int.from_bytes(caller, "big")
    assert int.from_bytes(words[64:], "little") == int.from_bytes(address, "big")


def test_message_words_of_twenty_byte_addresses() -> None:
    caller, address = bytes(range(1, 21)), bytes(range(100, 120))
    words = message_words(0, caller, address)
    assert words[:32] == bytes(32)
    assert words[32:52] == caller[::-1] and words[52:64] == bytes(12)
    assert words[64:84] == address[::-1] and words[84:] == bytes(12)
