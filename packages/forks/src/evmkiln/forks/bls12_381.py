"""EIP-2537's BLS12-381 precompiles on a native library.

py-evm 0.12 computes them with ``py_ecc``, in pure Python: a pairing check
takes seconds and a 128-point multi-scalar multiplication tens of seconds,
which makes the EIP-2537 fixtures unrunnable within a per-case limit and any
contract that verifies a BLS signature unusable.  These are the same seven
precompiles, with py-evm's gas constants and its input rules (EIP-2537's):
each field element is 64 bytes and below the field modulus, every point is
on its curve (all zeros is the point at infinity), and the points of a
multi-scalar multiplication or a pairing are in the prime-order subgroup;
any violation is an exceptional halt (:class:`~eth.exceptions.VMError`,
which burns the call's gas).

The curve arithmetic is ``py-arkworks-bls12381`` (the ``ethereum``
organisation's PyO3 binding of arkworks, MIT or Apache-2.0, wheels for
CPython 3.11 to 3.14): its ``from_xy_bytes_unchecked_be`` checks the curve
equation but not the subgroup (what the additions need), ``is_in_subgroup``
the rest, and ``map_from_fp_be``/``map_from_fp2_be`` are the SSWU map with
the cofactor cleared, as EIP-2537 specifies.
"""

from __future__ import annotations

from typing import Any

from eth.exceptions import VMError
from eth.precompiles.bls12_381.constants import (
    BLS12_G1_ADD_GAS,
    BLS12_G1_MSM_GAS,
    BLS12_G2_ADD_GAS,
    BLS12_G2_MSM_GAS,
    BLS12_MAP_FP2_G2_GAS,
    BLS12_MAP_FP_G1_GAS,
    G1_MSM_DISCOUNTS,
    G1_MSM_MAX_DISCOUNT,
    G2_MSM_DISCOUNTS,
    G2_MSM_MAX_DISCOUNT,
    MSM_MULTIPLIER,
)
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
FP_SIZE = 64
"""EIP-2537 pads each 48-byte field element to 64 bytes."""
G1_SIZE = 2 * FP_SIZE
G2_SIZE = 4 * FP_SIZE
SCALAR_SIZE = 32
PAIRING_BASE_GAS = 37700
PAIRING_PER_PAIR_GAS = 32600


def _fp(data: bytes) -> bytes:
    """One 64-byte field element as the 48 bytes the library takes; halts unless below p."""
    if int.from_bytes(data, "big") >= FIELD_MODULUS:
        raise VMError("BLS12-381 field element not below the field modulus")
    return data[FP_SIZE - 48 :]


def _g1(data: bytes, *, subgroup: bool) -> G1Point:
    raw = _fp(data[:FP_SIZE]) + _fp(data[FP_SIZE:G1_SIZE])
    try:
        point = G1Point.from_xy_bytes_unchecked_be(raw)
    except ValueError as exc:
        raise VMError(f"BLS12-381 G1 point: {exc}") from exc
    if subgroup and not point.is_in_subgroup():
        raise VMError("BLS12-381 G1 point not in the subgroup")
    return point


def _g2(data: bytes, *, subgroup: bool) -> G2Point:
    raw = b"".join(_fp(data[i : i + FP_SIZE]) for i in range(0, G2_SIZE, FP_SIZE))
    try:
        point = G2Point.from_xy_bytes_unchecked_be(raw)
    except ValueError as exc:
        raise VMError(f"BLS12-381 G2 point: {exc}") from exc
    if subgroup and not point.is_in_subgroup():
        raise VMError("BLS12-381 G2 point not in the subgroup")
    return point


def _encode(xy: bytes) -> bytes:
    """The library's 48-byte coordinates, each padded back to 64 bytes."""
    return b"".join(b"\0" * 16 + xy[i : i + 48] for i in range(0, len(xy), 48))


def _data(computation: Any) -> bytes:
    return bytes(computation.msg.data_as_bytes)


def _msm_gas(k: int, per_point: int, discounts: list[int], max_discount: int) -> int:
    discount = discounts[k - 1] if k <= len(discounts) else max_discount
    return k * per_point * discount // MSM_MULTIPLIER


def g1_add(computation: Any) -> Any:
    data = _data(computation)
    if len(data) != 2 * G1_SIZE:
        raise VMError("BLS12_G1ADD takes 256 bytes")
    computation.consume_gas(BLS12_G1_ADD_GAS, reason="BLS12_G1ADD")
    total = _g1(data[:G1_SIZE], subgroup=False) + _g1(data[G1_SIZE:], subgroup=False)
    computation.output = _encode(total.to_xy_bytes_be())
    return computation


def g2_add(computation: Any) -> Any:
    data = _data(computation)
    if len(data) != 2 * G2_SIZE:
        raise VMError("BLS12_G2ADD takes 512 bytes")
    computation.consume_gas(BLS12_G2_ADD_GAS, reason="BLS12_G2ADD")
    total = _g2(data[:G2_SIZE], subgroup=False) + _g2(data[G2_SIZE:], subgroup=False)
    computation.output = _encode(total.to_xy_bytes_be())
    return computation


def _scalars(data: bytes, pair_size: int, point_size: int) -> list[Scalar]:
    # Reduced modulo the group order: every point is in the subgroup, so this
    # is the same product as with the 256-bit scalar.
    return [
        Scalar.from_be_bytes_mod_order(data[i + point_size : i + pair_size])
        for i in range(0, len(data), pair_size)
    ]


def _msm(
    computation: Any,
    name: str,
    point_size: int,
    base_gas: int,
    discounts: Any,
    max_discount: int,
    decode: Any,
    multiexp: Any,
) -> Any:
    """G1MSM and G2MSM: the same rule over points of ``point_size`` bytes."""
    data = _data(computation)
    pair = point_size + SCALAR_SIZE
    if not data or len(data) % pair:
        raise VMError(f"BLS12_{name} takes a positive multiple of {pair} bytes")
    gas = _msm_gas(len(data) // pair, base_gas, discounts, max_discount)
    computation.consume_gas(gas, reason=f"BLS12_{name}")
    points = [decode(data[i : i + point_size], subgroup=True) for i in range(0, len(data), pair)]
    total = multiexp(points, _scalars(data, pair, point_size))
    computation.output = _encode(total.to_xy_bytes_be())
    return computation


def g1_msm(computation: Any) -> Any:
    return _msm(
        computation,
        "G1MSM",
        G1_SIZE,
        BLS12_G1_MSM_GAS,
        G1_MSM_DISCOUNTS,
        G1_MSM_MAX_DISCOUNT,
        _g1,
        G1Point.multiexp_unchecked,
    )


def g2_msm(computation: Any) -> Any:
    return _msm(
        computation,
        "G2MSM",
        G2_SIZE,
        BLS12_G2_MSM_GAS,
        G2_MSM_DISCOUNTS,
        G2_MSM_MAX_DISCOUNT,
        _g2,
        G2Point.multiexp_unchecked,
    )


def pairing_check(computation: Any) -> Any:
    data = _data(computation)
    pair = G1_SIZE + G2_SIZE
    if not data or len(data) % pair:
        raise VMError("BLS12_PAIRING_CHECK takes a positive multiple of 384 bytes")
    k = len(data) // pair
    computation.consume_gas(
        PAIRING_BASE_GAS + PAIRING_PER_PAIR_GAS * k, reason="BLS12_PAIRING_CHECK"
    )
    g1s = [_g1(data[i : i + G1_SIZE], subgroup=True) for i in range(0, len(data), pair)]
    g2s = [_g2(data[i + G1_SIZE : i + pair], subgroup=True) for i in range(0, len(data), pair)]
    valid = GT.pairing_check(g1s, g2s)
    computation.output = (1 if valid else 0).to_bytes(32, "big")
    return computation


def map_fp_to_g1(computation: Any) -> Any:
    data = _data(computation)
    if len(data) != FP_SIZE:
        raise VMError("BLS12_MAP_FP_TO_G1 takes 64 bytes")
    computation.consume_gas(BLS12_MAP_FP_G1_GAS, reason="BLS12_MAP_FP_TO_G1")
    point = G1Point.map_from_fp_be(_fp(data))
    computation.output = _encode(point.to_xy_bytes_be())
    return computation


def map_fp2_to_g2(computation: Any) -> Any:
    data = _data(computation)
    if len(data) != 2 * FP_SIZE:
        raise VMError("BLS12_MAP_FP2_TO_G2 takes 128 bytes")
    computation.consume_gas(BLS12_MAP_FP2_G2_GAS, reason="BLS12_MAP_FP2_TO_G2")
    point = G2Point.map_from_fp2_be(_fp(data[:FP_SIZE]) + _fp(data[FP_SIZE:]))
    computation.output = _encode(point.to_xy_bytes_be())
    return computation


def bls12_381_precompiles() -> dict[bytes, Any]:
    """The seven precompiles by address (0x0b to 0x11), to replace py-evm's."""
    from eth._utils.address import force_bytes_to_address
    from eth.vm.forks.prague.constants import (
        BLS12_G1ADD_PRECOMPILE_ADDRESS,
        BLS12_G1MSM_PRECOMPILE_ADDRESS,
        BLS12_G2ADD_PRECOMPILE_ADDRESS,
        BLS12_G2MSM_PRECOMPILE_ADDRESS,
        BLS12_MAP_FP2_TO_G2_PRECOMPILE_ADDRESS,
        BLS12_MAP_FP_TO_G1_PRECOMPILE_ADDRESS,
        BLS12_PAIRING_CHECK_PRECOMPILE_ADDRESS,
    )

    return {
        force_bytes_to_address(BLS12_G1ADD_PRECOMPILE_ADDRESS): g1_add,
        force_bytes_to_address(BLS12_G1MSM_PRECOMPILE_ADDRESS): g1_msm,
        force_bytes_to_address(BLS12_G2ADD_PRECOMPILE_ADDRESS): g2_add,
        force_bytes_to_address(BLS12_G2MSM_PRECOMPILE_ADDRESS): g2_msm,
        force_bytes_to_address(BLS12_PAIRING_CHECK_PRECOMPILE_ADDRESS): pairing_check,
        force_bytes_to_address(BLS12_MAP_FP_TO_G1_PRECOMPILE_ADDRESS): map_fp_to_g1,
        force_bytes_to_address(BLS12_MAP_FP2_TO_G2_PRECOMPILE_ADDRESS): map_fp2_to_g2,
    }
