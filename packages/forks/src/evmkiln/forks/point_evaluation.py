"""EIP-4844's point evaluation precompile (0x0a) without loading the whole trusted setup.

py-evm's version has ``ckzg`` parse the KZG trusted setup file (4,096 G1 and
65 G2 points) on every call, 2.2-2.7 s each time: in a stream of mixed
transactions, four calls of the precompile took more time than three
thousand transactions around them.  Loading it once per process still cost
every new process those seconds.  This version verifies with
:func:`evmkiln.forks.kzg.verify_kzg_proof`, which needs one point of the
same file (2-3 ms per proof), and is otherwise py-evm's: the same gas, the
same checks in the same order, the same errors and output.

:func:`evmkiln.forks.precompiles.with_native_precompiles` puts it into a
fork's precompile table.
"""

from __future__ import annotations

import hashlib
from typing import Any

from eth.exceptions import VMError
from eth.vm.forks.cancun.constants import (
    BLS_MODULUS,
    FIELD_ELEMENTS_PER_BLOB,
    POINT_EVALUATION_PRECOMPILE_GAS,
    VERSIONED_HASH_VERSION_KZG,
)

from evmkiln.forks.kzg import verify_kzg_proof

INPUT_BYTES = 192
"""versioned hash, z, y (32 bytes each), commitment and proof (48 bytes each)."""

OUTPUT = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")


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
    if not verify_kzg_proof(commitment, z, y, proof):  # malformed inputs included
        raise VMError("Point evaluation KZG proof verification failed.")
    computation.output = OUTPUT
    return computation
