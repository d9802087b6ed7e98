"""Plausible inputs for the precompiles 0x01-0x0a.

Random bytes exercise a precompile's rejection path only; each builder here
mixes well-formed inputs that succeed (a real signature, curve points, a
valid pairing, a zero-polynomial KZG proof) with inputs that are malformed in
one way (a length, a coordinate, a flag).  Expensive cases (pairings, KZG
checks, many BLAKE2 rounds) are kept rare or unpayable, since py-evm
computes them in Python on every run.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable
from typing import Any

from evmkiln.fuzz.values import MAX_WORD, word

_BN_P = 0x30644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD47
_BN_ORDER = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001
_SECP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def _w(value: int) -> bytes:
    return (value & MAX_WORD).to_bytes(32, "big")


@functools.cache
def _signatures() -> tuple[tuple[bytes, int, int, int], ...]:
    """(hash, v, r, s) of two messages signed by a fixed key (deterministic signing)."""
    from eth_keys.datatypes import PrivateKey

    key = PrivateKey(b"\x42" * 32)
    out = []
    for message in (b"evmkiln", b"fuzz"):
        digest = hashlib.sha256(message).digest()
        signature = key.sign_msg_hash(digest)
        out.append((digest, signature.v + 27, signature.r, signature.s))
    return tuple(out)


@functools.cache
def _bn_points() -> tuple[tuple[int, int], tuple[int, int]]:
    """G1 and 2*G1 of alt_bn128, affine."""
    from py_ecc.bn128 import bn128_curve

    double: Any = bn128_curve.double(bn128_curve.G1)
    return (1, 2), (int(double[0].n), int(double[1].n))


@functools.cache
def _g2() -> bytes:
    """The G2 generator in the precompile's encoding (imaginary part first)."""
    from py_ecc.bn128 import bn128_curve

    x, y = bn128_curve.G2
    return b"".join(_w(int(c)) for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0]))


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def ecrecover(rng: random.Random) -> bytes:
    digest, v, r, s = rng.choice(_signatures())
    pick = rng.randrange(6)
    if pick == 0:
        v = rng.choice([0, 1, 26, 29, 27 + 2**255])
    elif pick == 1:
        s = rng.choice([0, _SECP_ORDER, _SECP_ORDER - s, MAX_WORD])
    elif pick == 2:
        digest = _random_bytes(rng, 32)
    out = digest + _w(v) + _w(r) + _w(s)
    return out[: rng.choice([128, 128, 128, 127, 97, 0])] if rng.random() < 0.2 else out


def hash_input(rng: random.Random) -> bytes:
    """For SHA-256, RIPEMD-160 and identity: any bytes."""
    return _random_bytes(rng, rng.choice([0, 1, 31, 32, 55, 56, 64, 100, 200]))


def modexp(rng: random.Random) -> bytes:
    sizes = [rng.choice([0, 1, 2, 31, 32, 33, 64]) for _ in range(3)]
    if rng.random() < 0.15:
        sizes[1] = rng.choice([2**32, 2**64, MAX_WORD])  # exponent length: gas nobody has
    base_len, exp_len, mod_len = sizes
    body = b"".join(
        _w(rng.choice([0, 1, 2, 3, word(rng)]))[-n:] if n else b""
        for n in (base_len, min(exp_len, 64), mod_len)
    )
    body = body[: rng.choice([len(body), len(body) // 2])]
    return _w(base_len) + _w(exp_len) + _w(mod_len) + body


def _point(rng: random.Random) -> bytes:
    g1, g1_double = _bn_points()
    pick = rng.randrange(6)
    if pick < 3:
        x, y = g1 if pick == 0 else g1_double
    elif pick == 3:
        x, y = 0, 0  # the point at infinity
    elif pick == 4:
        x, y = 1, 3  # not on the curve
    else:
        x, y = _BN_P, 2  # a coordinate not reduced
    return _w(x) + _w(y)


def bn_add(rng: random.Random) -> bytes:
    data = _point(rng) + _point(rng)
    return data[: rng.choice([128, 128, 128, 64, 0])]


def bn_mul(rng: random.Random) -> bytes:
    scalar = rng.choice([0, 1, 2, 3, _BN_ORDER, _BN_ORDER - 1, MAX_WORD, word(rng)])
    return (_point(rng) + _w(scalar))[: rng.choice([96, 96, 96, 64])]


def pairing(rng: random.Random) -> bytes:
    pick = rng.randrange(50)  # a pairing takes py-evm about half a second: keep them rare
    if pick < 25:
        return b""  # the empty product: success, returns 1
    if pick < 48:
        return _random_bytes(rng, rng.choice([1, 64, 191, 193]))  # a length no pairing has
    (x, y), _ = _bn_points()
    first = _w(x) + _w(y) + _g2()
    if pick == 48:
        return first  # e(G1, G2) != 1: returns 0
    return first + _w(x) + _w(_BN_P - y) + _g2()  # e(G1, G2) * e(-G1, G2) == 1


def blake2f(rng: random.Random) -> bytes:
    rounds = rng.choice([0, 1, 2, 12, 64, 0xFFFFFFFF])
    final = rng.choice([0, 1, 1, 2])  # 2 is not a valid flag
    data = rounds.to_bytes(4, "big") + _random_bytes(rng, 64 + 128 + 16) + bytes([final])
    return data[: rng.choice([213, 213, 213, 212, 214])]


def point_evaluation(rng: random.Random) -> bytes:
    """The zero polynomial's proof (commitment and proof at infinity, y = 0) or a broken one.

    py-evm loads the trusted setup for every proof it checks (seconds), so
    inputs that get past the versioned-hash check are rare.
    """
    infinity = b"\xc0" + bytes(47)
    versioned = b"\x01" + hashlib.sha256(infinity).digest()[1:]
    z = rng.choice([0, 1, _BLS_MODULUS - 1, rng.randrange(_BLS_MODULUS)])
    y = 0 if rng.random() < 0.7 else 1
    data = versioned + _w(z) + _w(y) + infinity + infinity
    pick = rng.randrange(40)
    if pick == 0:
        return data
    if pick == 1:
        return data[:32] + _w(_BLS_MODULUS) + data[64:]  # z not in the field
    if pick < 10:
        return data[: rng.choice([0, 191])]
    return _random_bytes(rng, 32) + data[32:]  # the hash does not match


BUILDERS: dict[int, Callable[[random.Random], bytes]] = {
    1: ecrecover,
    2: hash_input,
    3: hash_input,
    4: hash_input,
    5: modexp,
    6: bn_add,
    7: bn_mul,
    8: pairing,
    9: blake2f,
    10: point_evaluation,
}


def precompile_input(rng: random.Random, address: int) -> bytes:
    """An input for the precompile at ``address`` (1-10)."""
    return BUILDERS[address](rng)
