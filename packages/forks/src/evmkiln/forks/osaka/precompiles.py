"""Osaka's precompile changes: MODEXP's bounds and price, and P256VERIFY.

Written as py-evm precompiles: functions of the computation that charge gas
on it, set its output, and raise :class:`~eth.exceptions.VMError` for an
exceptional halt (which burns the call's gas).
"""

from __future__ import annotations

from typing import Any

from eth.exceptions import VMError

from evmkiln.forks.modexp import modexp_lengths, modexp_output
from evmkiln.forks.modexp import read_padded as _read
from evmkiln.forks.osaka.constants import (
    MODEXP_MAX_INPUT_LENGTH,
    MODEXP_MIN_GAS,
    P256VERIFY_GAS,
)

# secp256r1 (NIST P-256) domain parameters.
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def modexp_gas(base_length: int, exponent_length: int, modulus_length: int, head: int) -> int:
    """EIP-7883's price: EIP-2565's formula, dearer for long operands and exponents."""
    longest = max(base_length, modulus_length)
    words = (longest + 7) // 8
    complexity = 2 * words * words if longest > 32 else 16
    if exponent_length <= 32:
        iterations = max(head.bit_length() - 1, 0)
    else:
        iterations = 16 * (exponent_length - 32) + max(head.bit_length() - 1, 0)
    return max(MODEXP_MIN_GAS, complexity * max(iterations, 1))


def modexp(computation: Any) -> Any:
    """MODEXP with EIP-7823's 1024-byte operand bound and EIP-7883's price."""
    data = bytes(computation.msg.data_as_bytes)
    base_length, exponent_length, modulus_length = modexp_lengths(data)
    if max(base_length, exponent_length, modulus_length) > MODEXP_MAX_INPUT_LENGTH:
        raise VMError("MODEXP operand longer than 1024 bytes (EIP-7823)")
    exponent_start = 96 + base_length
    head = int.from_bytes(_read(data, exponent_start, min(32, exponent_length)), "big")
    computation.consume_gas(
        modexp_gas(base_length, exponent_length, modulus_length, head), reason="MODEXP"
    )
    computation.output = modexp_output(data)
    return computation


def p256_on_curve(x: int, y: int) -> bool:
    return (y * y - (x * x * x + P256_A * x + P256_B)) % P256_P == 0


def p256_verify(message_hash: bytes, r: int, s: int, x: int, y: int) -> bool:
    """Whether ``(r, s)`` is a valid P-256 signature of the 32-byte hash by key ``(x, y)``.

    The input checks are EIP-7951's; the signature check itself is OpenSSL's
    ECDSA verification through ``cryptography``, given the hash as is.
    """
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    if x >= P256_P or y >= P256_P or (x == 0 and y == 0) or not p256_on_curve(x, y):
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    signature = utils.encode_dss_signature(r, s)
    try:
        key.verify(signature, message_hash, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def p256verify(computation: Any) -> Any:
    """EIP-7951: 32-byte 1 for a valid signature, empty output otherwise; never halts."""
    computation.consume_gas(P256VERIFY_GAS, reason="P256VERIFY")
    data = bytes(computation.msg.data_as_bytes)
    if len(data) != 160:
        return computation
    words = [int.from_bytes(data[i : i + 32], "big") for i in range(32, 160, 32)]
    if p256_verify(data[:32], *words):
        computation.output = (1).to_bytes(32, "big")
    return computation
