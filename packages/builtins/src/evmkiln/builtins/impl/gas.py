"""The Cancun gas schedule of the builtins and the one way they charge gas.

Only the *dynamic* parts of opcode prices appear here: each opcode's static
price is charged by the IR from the opcode table before the builtin runs.
Values follow py-evm's Cancun VM (Berlin's EIP-2929 access costs, London's
EIP-3529 refunds, Shanghai's EIP-3860 initcode price).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame

# EIP-2929 account and storage access.
COLD_ACCOUNT_ACCESS = 2600
COLD_SLOAD = 2100
WARM_STORAGE_READ = 100

# EIP-2200 SSTORE, as repriced by EIP-2929 and EIP-3529.
SSTORE_SENTRY = 2300
"""SSTORE halts when no more than this much gas is left (EIP-2200)."""
SSTORE_SET = 20000
SSTORE_RESET = 5000 - COLD_SLOAD
SSTORE_CLEARS_REFUND = SSTORE_RESET + 1900  # EIP-3529: reset price + access-list key price

# Hashing and logs.
KECCAK_WORD = 6
LOG_DATA_BYTE = 8
LOG_TOPIC = 375

# Calls.
CALL_VALUE = 9000
CALL_STIPEND = 2300
NEW_ACCOUNT = 25000
CALL_DEPTH_LIMIT = 1024

# Creation.
INITCODE_WORD = 2  # EIP-3860
MAX_INITCODE_SIZE = 2 * 24576  # EIP-3860: twice EIP-170's code size limit
MAX_NONCE = 2**64 - 1  # EIP-2681

# Self-destruction.
SELFDESTRUCT_NEW_ACCOUNT = 25000


def charge(frame: Frame, amount: int, reason: str = "") -> None:
    """Take ``amount`` gas from the frame or halt with OUT_OF_GAS, leaving gas unchanged.

    ``reason`` is what py-evm's interpreter names the charge in its out-of-gas
    message, where a builtin knows it.
    """
    if amount > frame.gas:
        facts: dict[str, int | str] = {"needed": amount, "remaining": frame.gas}
        if reason:
            facts["reason"] = reason
        raise ExceptionalHalt(HaltKind.OUT_OF_GAS, f"needed {amount}, had {frame.gas}", **facts)
    frame.gas -= amount


def all_but_one_64th(gas: int) -> int:
    """EIP-150: the most gas a frame may pass on to a child."""
    return gas - gas // 64
