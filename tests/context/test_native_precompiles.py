"""evmkiln's versions of py-evm's slow precompiles give py-evm's results.

The point evaluation precompile (0x0a) with its trusted setup loaded once,
and BLAKE2's compression (0x09) through ``blake2b-py``, against py-evm's own
functions: outputs, gas and errors, on valid and invalid inputs.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import ckzg
import pytest
from eth.precompiles import blake2 as pyevm_blake2
from eth.precompiles.point_evaluation import TRUSTED_SETUP_PATH, point_evaluation_precompile
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.constants import BLS_MODULUS, VERSIONED_HASH_VERSION_KZG
from hypothesis import given, settings
from hypothesis import strategies as st
from message_harness import A, addr, apply_message

from evmkiln.context import make_vm_class
from evmkiln.forks import fork_spec
from evmkiln.forks.point_evaluation import point_evaluation
from evmkiln.forks.precompiles import with_native_precompiles

POINT_EVALUATION = addr(0x0A)
BLAKE2F = addr(0x09)


def _kzg_input() -> bytes:
    """A valid point evaluation input: a random blob's commitment, opened at a random z."""
    rng = random.Random(4844)
    blob = b"".join(rng.randrange(BLS_MODULUS).to_bytes(32, "big") for _ in range(4096))
    setup = ckzg.load_trusted_setup(TRUSTED_SETUP_PATH, 0)
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = rng.randrange(BLS_MODULUS).to_bytes(32, "big")
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    versioned = VERSIONED_HASH_VERSION_KZG + hashlib.sha256(commitment).digest()[1:]
    return versioned + z + y + commitment + proof


VALID = _kzg_input()


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


CASES = {
    "valid": VALID,
    "short": VALID[:-1],
    "long": VALID + b"\0",
    "empty": b"",
    "wrong versioned hash": _flip(VALID, 5),
    "wrong y": _flip(VALID, 95),
    "wrong proof": _flip(VALID, 191),
    "z out of field": VALID[:32] + b"\xff" * 32 + VALID[64:],
}


@pytest.fixture(scope="module")
def kiln() -> Any:
    return make_vm_class("ir", fork="cancun", interpret_on_compile_error=False)


def test_evmkiln_classes_carry_the_replacements(kiln: Any) -> None:
    table = kiln.get_state_class().computation_class._precompiles
    assert table[POINT_EVALUATION] is point_evaluation
    for fork in ("prague", "osaka"):
        assert fork_spec(fork).computation_class._precompiles[POINT_EVALUATION] is point_evaluation
    stock = CancunVM.get_state_class().computation_class._precompiles
    assert stock[POINT_EVALUATION] is point_evaluation_precompile  # py-evm's own is untouched
    assert with_native_precompiles(stock).keys() == stock.keys()


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("gas", [50_000, 49_999])
def test_point_evaluation_matches_pyevm(kiln: Any, name: str, gas: int) -> None:
    data = CASES[name]
    expected = apply_message(CancunVM, {A: {}}, to=POINT_EVALUATION, data=data, gas=gas)
    assert apply_message(kiln, {A: {}}, to=POINT_EVALUATION, data=data, gas=gas) == expected
    assert expected.success == (name == "valid" and gas >= 50_000)


def test_blake2_compression_is_native() -> None:
    import blake2b

    assert pyevm_blake2.blake2b_compress is blake2b.compress


@settings(max_examples=60, deadline=None)
@given(
    rounds=st.integers(min_value=0, max_value=2_000),
    state=st.binary(min_size=64, max_size=64),
    block=st.binary(min_size=128, max_size=128),
    offsets=st.binary(min_size=16, max_size=16),
    final=st.sampled_from([b"\x00", b"\x01", b"\x02"]),
)
def test_blake2f_matches_pure_python(
    rounds: int, state: bytes, block: bytes, offsets: bytes, final: bytes
) -> None:
    from eth._utils.blake2.coders import extract_blake2b_parameters
    from eth._utils.blake2.compression import blake2b_compress as pure

    data = rounds.to_bytes(4, "big") + state + block + offsets + final
    if final == b"\x02":
        with pytest.raises(Exception):  # noqa: B017 - py-evm's validation error
            extract_blake2b_parameters(data)
        return
    parameters = extract_blake2b_parameters(data)
    assert pyevm_blake2.blake2b_compress(*parameters) == pure(*parameters)
