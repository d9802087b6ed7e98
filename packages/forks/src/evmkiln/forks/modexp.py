"""MODEXP's result (EIP-198), shared by evmkiln's Prague and Osaka precompiles.

py-evm 0.12 returns 0 whenever the base is empty, but an empty base is the
number 0 and ``0**0 mod m`` is 1 for ``m > 1``: a call with an empty base
and a zero exponent gets the wrong output.  The forks differ only in the
price and the operand bounds, which their precompiles check before this.
"""

from __future__ import annotations


def read_padded(data: bytes, start: int, size: int) -> bytes:
    """``size`` bytes of ``data`` from ``start``, zero-padded past its end."""
    return data[start : start + size].ljust(size, b"\0")


def modexp_lengths(data: bytes) -> tuple[int, int, int]:
    """The base, exponent and modulus lengths heading a MODEXP input."""
    base, exponent, modulus = (
        int.from_bytes(read_padded(data, offset, 32), "big") for offset in (0, 32, 64)
    )
    return base, exponent, modulus


def modexp_output(data: bytes) -> bytes:
    """``base**exponent % modulus`` as ``modulus_length`` bytes (0 for a zero modulus)."""
    base_length, exponent_length, modulus_length = modexp_lengths(data)
    if modulus_length == 0:
        return b""
    exponent_start = 96 + base_length
    modulus_start = exponent_start + exponent_length
    modulus = int.from_bytes(read_padded(data, modulus_start, modulus_length), "big")
    if modulus == 0:
        return bytes(modulus_length)
    base = int.from_bytes(read_padded(data, 96, base_length), "big")
    exponent = int.from_bytes(read_padded(data, exponent_start, exponent_length), "big")
    return pow(base, exponent, modulus).to_bytes(modulus_length, "big")
