"""Numbers Osaka introduces (EIP numbers beside each)."""

from __future__ import annotations

from evmkiln.forks.blobs import PRAGUE_BLOBS

# EIP-7825: a cap on the gas limit of a single transaction.
TX_GAS_LIMIT_CAP = 2**24

# EIP-7594 (PeerDAS): a cap on the blobs of a single transaction.
MAX_BLOBS_PER_TX = 6

# EIP-7918: the blob base fee is held above this share of the execution base fee.
BLOB_BASE_COST = 2**13

OSAKA_BLOBS = PRAGUE_BLOBS
"""Osaka's own schedule is Prague's; the blob-parameter-only forks after it change it."""

# EIP-7823 and EIP-7883: MODEXP.
MODEXP_MAX_INPUT_LENGTH = 1024
MODEXP_MIN_GAS = 500

# EIP-7951: secp256r1 (P-256) signature verification.
P256VERIFY_ADDRESS = b"\x01\x00"
P256VERIFY_GAS = 6900

# EIP-7939: CLZ.
CLZ_OPCODE = 0x1E
CLZ_GAS = 5
