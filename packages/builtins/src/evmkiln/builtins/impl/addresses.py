"""Addresses from stack words, and the derivation of new contracts' addresses."""

from __future__ import annotations

from evmkiln.builtins.keccak_backend import keccak256 as keccak

_ADDRESS_MASK = (1 << 160) - 1


def word_to_address(word: int) -> bytes:
    """The address a stack word names: its low 160 bits, as 20 bytes."""
    return (word & _ADDRESS_MASK).to_bytes(20, "big")


def address_to_word(address: bytes) -> int:
    return int.from_bytes(address, "big")


def _rlp_uint(value: int) -> bytes:
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(raw),)) + raw


def create_address(sender: bytes, nonce: int) -> bytes:
    """CREATE: the last 20 bytes of ``keccak(rlp([sender, nonce]))``."""
    payload = b"\x94" + sender + _rlp_uint(nonce)
    # The payload is at most 1 + 20 + 9 bytes, so the short list form always applies.
    return keccak(bytes((0xC0 + len(payload),)) + payload)[12:]


def create2_address(sender: bytes, salt: int, initcode: bytes) -> bytes:
    """CREATE2 (EIP-1014): the last 20 bytes of
    ``keccak(0xff ++ sender ++ salt ++ keccak(initcode))``."""
    return keccak(b"\xff" + sender + salt.to_bytes(32, "big") + keccak(initcode))[12:]
