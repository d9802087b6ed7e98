"""EIP-4844's point evaluation precompile (0x0a) with its trusted setup loaded once.

py-evm's version parses the KZG trusted setup file (4,096 G1 and 65 G2
points) on every call, which takes about as long as a whole block of ordinary
transactions: in a stream of mixed transactions, four calls of the precompile
took more time than three thousand transactions around them.  The
verification itself (``ckzg``, native) takes about a millisecond.  This
version loads the same file, with the same precompute setting, once per
process, and is otherwise py-evm's: the same gas, the same checks in the same
order, the same errors and output.

:func:`evmkiln.forks.precompiles.with_native_precompiles` puts it into a
fork's precompile table.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from ckzg import load_trusted_setup, verify_kzg_proof
from eth.exceptions import VMError
from eth.precompiles.point_evaluation import TRUSTED_SETUP_PATH
from eth.vm.forks.cancun.constants import (
    BLS_MODULUS,
    FIELD_ELEMENTS_PER_BLOB,
    POINT_EVALUATION_PRECOMPILE_GAS,
    VERSIONED_HASH_VERSION_KZG,
)

INPUT_BYTES = 192
"""versioned hash, z, y (32 bytes each), commitment and proof (48 bytes each)."""

OUTPUT = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")


@functools.cache
def trusted_setup() -> Any:
    """The KZG trusted setup py-evm verifies against, parsed on first use."""
    return load_trusted_setup(TRUSTED_SETUP_PATH, 0)


def point_evaluation(computation: Any) -> Any:
    """Verify ``p(z) = y`` for the commitment named by the versioned hash, as py-evm does."""
    computation.consume_gas(POINT_EVALUATION_PRECOMPILE_GAS, reason="Point Evaluation Precompile")
    data = bytes(computation.msg.data_as_bytes)
    if len(data) != INPUT_BYTES:
        raise VMError("Point evaluation invalid input length.")
    versioned_hash, z, y = data[:32], data[32:64], data[64:96]
    commitment, proof = data[96:144], data[144:192]
    expected = VERSIONED_HASH_VERSION_KZG + hashlib.sha256(commitment).digest()[1:]
    if expected != versioned_hash:
        raise VMError("Point evaluation commitment does not match versioned hash.")
    try:
        valid = verify_kzg_proof(commitment, z, y, proof, trusted_setup())
    except RuntimeError:  # malformed points or field elements, rejected by ckzg
        valid = False
    if not valid:
        raise VMError("Point evaluation KZG proof verification failed.")
    computation.output = OUTPUT
    return computation
