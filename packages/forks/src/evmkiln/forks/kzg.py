"""KZG proof verification (EIP-4844's ``verify_kzg_proof``) with one point of the setup.

Checking ``p(z) = y`` against a commitment needs a single point of the trusted
setup, ``[s]G2``, and one pairing check.  ``ckzg`` (what py-evm calls) loads
the whole setup first, and since version 2 also builds the tables that
EIP-7594's cell proofs need: 2.2-2.7 s of CPU the first time a process runs
the point evaluation precompile (every test worker, every conformance
worker, every new node process), for nothing that verification uses.  This
module reads ``[s]G2`` from the same file and checks the pairing with
arkworks (``py-arkworks-bls12381``, already the BLS12-381 precompiles'
library).

The result is the specification's, input by input
(``verify_kzg_proof_impl`` in the Deneb polynomial-commitments spec):

* ``z`` and ``y`` are canonical field elements (big-endian, below the BLS
  modulus);
* the commitment and the proof are compressed G1 points as blst accepts them
  (``validate_kzg_g1``): the compression flag set; the point at infinity only
  as ``0xc0`` followed by zeros; otherwise a canonical x coordinate of a point
  on the curve, in the prime-order subgroup;
* then ``e(P - [y]G1, -G2) * e(proof, [s]G2 - [z]G2) == 1``, computed as
  ``e(P - [y]G1 + [z]proof, -G2) * e(proof, [s]G2) == 1`` (the same product).

Any input that breaks a rule gives ``False``, as ``ckzg``'s error gives the
precompile's failure.  ``tests/forks/test_kzg.py`` checks the answers
against ``ckzg``'s on valid and corrupted proofs.
"""

from __future__ import annotations

import functools

from eth.precompiles.point_evaluation import TRUSTED_SETUP_PATH
from eth.vm.forks.cancun.constants import BLS_MODULUS, FIELD_ELEMENTS_PER_BLOB
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

G1_BYTES = 48
FIELD_ELEMENT_BYTES = 32
_COMPRESSED = 0x80
_INFINITY = 0x40
INFINITY = bytes([_COMPRESSED | _INFINITY]) + bytes(G1_BYTES - 1)


@functools.cache
def tau_g2() -> G2Point:
    """``[s]G2``, the second of the setup's G2 points (the file py-evm and ckzg read).

    The file: the G1 count, the G2 count, the G1 points, then the G2 points in
    monomial form ``[s^i]G2``, one hex line each.
    """
    with open(TRUSTED_SETUP_PATH) as lines:
        g1_count = int(next(lines))
        g2_count = int(next(lines))
        if g1_count != FIELD_ELEMENTS_PER_BLOB or g2_count < 2:
            raise ValueError(f"unexpected trusted setup shape {g1_count}, {g2_count}")
        for _ in range(g1_count + 1):  # the G1 points and [1]G2
            next(lines)
        return G2Point.from_compressed_bytes(bytes.fromhex(next(lines).strip()))


def _field_element(data: bytes) -> Scalar | None:
    value = int.from_bytes(data, "big")
    if len(data) != FIELD_ELEMENT_BYTES or value >= BLS_MODULUS:
        return None
    return Scalar(value)


def _g1(data: bytes) -> G1Point | None:
    """A commitment or proof as ``validate_kzg_g1`` accepts it (``None``: rejected)."""
    if len(data) != G1_BYTES or not data[0] & _COMPRESSED:
        return None
    if data[0] & _INFINITY:
        return G1Point.identity() if data == INFINITY else None
    try:
        # Checks the x coordinate is canonical, on the curve and in the subgroup.
        return G1Point.from_compressed_bytes(data)
    except ValueError:
        return None


def verify_kzg_proof(commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bool:
    """Whether ``proof`` shows that the polynomial committed to takes value ``y`` at ``z``."""
    z_scalar, y_scalar = _field_element(z), _field_element(y)
    commitment_point, proof_point = _g1(commitment), _g1(proof)
    if z_scalar is None or y_scalar is None or commitment_point is None or proof_point is None:
        return False
    # e(proof, [s - z]G2) = e(proof, [s]G2) * e([z]proof, -G2): scalar multiplications
    # in G1 only, a third of the cost of one in G2.
    left = commitment_point - G1Point() * y_scalar + proof_point * z_scalar
    return bool(GT.pairing_check([left, proof_point], [_minus_g2(), tau_g2()]))


@functools.cache
def _minus_g2() -> G2Point:
    return -G2Point()
