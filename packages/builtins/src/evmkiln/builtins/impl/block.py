"""Transaction and block environment reads, answered by the host.

None of these can halt: their whole price is static and already charged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame

BLOCKHASH_WINDOW = 256
"""BLOCKHASH sees the 256 most recent ancestors; anything else reads as zero."""


def origin(frame: Frame) -> int:
    return int.from_bytes(frame.host.origin(), "big")


def gasprice(frame: Frame) -> int:
    return frame.host.gas_price()


def blockhash(frame: Frame, number: int) -> int:
    """Hash of one of the 256 previous blocks; 0 for the current block, the future, or older."""
    current = frame.host.block_number()
    if number >= current or current - number > BLOCKHASH_WINDOW:
        return 0
    return frame.host.block_hash(number)


def coinbase(frame: Frame) -> int:
    return int.from_bytes(frame.host.coinbase(), "big")


def timestamp(frame: Frame) -> int:
    return frame.host.timestamp()


def number(frame: Frame) -> int:
    return frame.host.block_number()


def prevrandao(frame: Frame) -> int:
    return frame.host.prev_randao()


def gaslimit(frame: Frame) -> int:
    return frame.host.gas_limit()


def chainid(frame: Frame) -> int:
    return frame.host.chain_id()


def selfbalance(frame: Frame) -> int:
    return frame.host.get_balance(frame.address)


def basefee(frame: Frame) -> int:
    return frame.host.base_fee()


def blobhash(frame: Frame, index: int) -> int:
    """EIP-4844: the transaction's ``index``-th versioned blob hash, 0 past the end."""
    hashes = frame.host.blob_hashes()
    if index >= len(hashes):
        return 0
    return int.from_bytes(hashes[index], "big")


def blobbasefee(frame: Frame) -> int:
    return frame.host.blob_base_fee()
