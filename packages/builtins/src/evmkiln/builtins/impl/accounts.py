"""Reads of other accounts, priced by EIP-2929 access lists.

In Cancun these opcodes have no static price: the whole cost is the access
charge (2600 for the first touch of an address in the transaction, 100
after), paid here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.impl.addresses import word_to_address
from evmkiln.builtins.impl.gas import COLD_ACCOUNT_ACCESS, WARM_STORAGE_READ, charge
from evmkiln.builtins.memory import copy_words_gas, expand, write_padded

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def charge_account_access(frame: Frame, address: bytes) -> None:
    """Warm ``address`` and pay for the access: cold 2600, warm 100."""
    if frame.host.access_account(address):
        charge(frame, COLD_ACCOUNT_ACCESS)
    else:
        charge(frame, WARM_STORAGE_READ)


def balance(frame: Frame, word: int) -> int:
    address = word_to_address(word)
    charge_account_access(frame, address)
    return frame.host.get_balance(address)


def extcodesize(frame: Frame, word: int) -> int:
    address = word_to_address(word)
    charge_account_access(frame, address)
    return len(frame.host.get_code(address))


def extcodecopy(frame: Frame, word: int, dest: int, offset: int, size: int) -> None:
    """Memory expansion, copy words, then the access charge (py-evm's order)."""
    address = word_to_address(word)
    expand(frame, dest, size)
    charge(frame, copy_words_gas(size))
    charge_account_access(frame, address)
    if size:
        write_padded(frame, dest, frame.host.get_code(address), offset, size)


def extcodehash(frame: Frame, word: int) -> int:
    """EIP-1052: 0 for empty (or missing) accounts, else the code hash."""
    address = word_to_address(word)
    charge_account_access(frame, address)
    host = frame.host
    if host.account_is_empty(address):
        return 0
    return host.get_code_hash(address)
