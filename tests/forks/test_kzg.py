"""evmkiln's KZG proof check answers as ckzg's (what py-evm calls), on valid and broken inputs.

ckzg's answer is the oracle: ``True``/``False``, or an error for an input it
rejects, which the precompile treats as a failed proof (``False`` here).
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import ckzg
import pytest
from eth.precompiles.point_evaluation import TRUSTED_SETUP_PATH
from eth.vm.forks.cancun.constants import BLS_MODULUS
from hypothesis import given, settings
from hypothesis import strategies as st
from py_arkworks_bls12381 import G1Point

from evmkiln.forks.kzg import INFINITY, verify_kzg_proof

FIELD_P = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
"""The base field's modulus (x coordinates)."""


@cache
def trusted_setup() -> Any:
    """ckzg's whole setup from the same file (seconds to load: once per test process)."""
    return ckzg.load_trusted_setup(TRUSTED_SETUP_PATH, 0)


def _ckzg(commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bool:
    try:
        return bool(ckzg.verify_kzg_proof(commitment, z, y, proof, trusted_setup()))
    except (RuntimeError, ValueError):  # a rejected point or field element; a wrong length
        return False


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


@cache
def _proofs() -> list[tuple[bytes, bytes, bytes, bytes]]:
    """Valid (commitment, z, y, proof): random blobs, and a constant one (proof at infinity)."""
    rng = random.Random(4844)
    setup: Any = trusted_setup()
    blobs = [b"".join(_word(rng.randrange(BLS_MODULUS)) for _ in range(4096)) for _ in range(2)]
    blobs.append(_word(7) * 4096)
    out = []
    for blob in blobs:
        commitment = ckzg.blob_to_kzg_commitment(blob, setup)
        for z in (_word(rng.randrange(BLS_MODULUS)), _word(0), _word(BLS_MODULUS - 1)):
            proof, y = ckzg.compute_kzg_proof(blob, z, setup)
            out.append((bytes(commitment), z, bytes(y), bytes(proof)))
    return out


def test_valid_proofs_verify_and_a_wrong_value_does_not() -> None:
    proofs = _proofs()
    assert any(proof == INFINITY for *_, proof in proofs), "the constant blob's proof"
    for commitment, z, y, proof in proofs:
        assert verify_kzg_proof(commitment, z, y, proof)
        wrong = _word((int.from_bytes(y, "big") + 1) % BLS_MODULUS)
        assert not verify_kzg_proof(commitment, z, wrong, proof)
        assert not _ckzg(commitment, z, wrong, proof)


def _not_in_subgroup() -> bytes:
    """A compressed point on the curve outside the prime-order subgroup."""
    rng = random.Random(1)
    while True:
        data = bytearray(rng.randrange(FIELD_P).to_bytes(48, "big"))
        data[0] |= 0x80
        try:
            point = G1Point.from_compressed_bytes_unchecked(bytes(data))
        except ValueError:
            continue
        if not point.is_in_subgroup():
            return bytes(data)


def _edge_points() -> list[bytes]:
    commitment = _proofs()[0][0]
    return [
        INFINITY,
        b"\xe0" + bytes(47),  # infinity with the sign bit
        b"\xc0" + bytes(46) + b"\x01",  # infinity with a stray bit
        b"\x40" + bytes(47),  # infinity without the compression flag
        bytes(48),
        bytes([commitment[0] & 0x7F]) + commitment[1:],  # compression flag cleared
        bytes([commitment[0] ^ 0x20]) + commitment[1:],  # the other y
        bytes([0x80 | (FIELD_P >> 376)]) + (FIELD_P % (1 << 376)).to_bytes(47, "big"),  # x = p
        b"\x9f" + b"\xff" * 47,  # x >= p
        _not_in_subgroup(),
        commitment[:47],
        commitment + b"\x00",
    ]


@pytest.mark.parametrize("which", ["commitment", "proof"])
def test_edge_case_points_answer_as_ckzg(which: str) -> None:
    commitment, z, y, proof = _proofs()[0]
    for point in _edge_points():
        args = (point, z, y, proof) if which == "commitment" else (commitment, z, y, point)
        assert verify_kzg_proof(*args) == _ckzg(*args), point.hex()


def test_field_elements_out_of_range_answer_as_ckzg() -> None:
    commitment, z, y, proof = _proofs()[0]
    for bad in (_word(BLS_MODULUS), _word(2**256 - 1), z[:31], z + b"\x00"):
        assert not verify_kzg_proof(commitment, bad, y, proof)
        assert not verify_kzg_proof(commitment, z, bad, proof)
        if len(bad) == 32:
            assert not _ckzg(commitment, bad, y, proof)
            assert not _ckzg(commitment, z, bad, proof)


@settings(max_examples=60, deadline=None)
@given(
    case=st.integers(0, 8),
    part=st.integers(0, 3),
    position=st.integers(0, 47),
    mask=st.integers(1, 255),
)
def test_corrupted_inputs_answer_as_ckzg(case: int, part: int, position: int, mask: int) -> None:
    args = list(_proofs()[case])
    data = bytearray(args[part])
    data[position % len(data)] ^= mask
    args[part] = bytes(data)
    assert verify_kzg_proof(*args) == _ckzg(*args)
