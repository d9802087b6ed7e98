"""SELFDESTRUCT under EIP-6780.

The static 5000 is charged by the IR.  Here: a static frame halts; a cold
beneficiary costs 2600 (EIP-2929); sending a non-zero balance to a dead
beneficiary costs 25000 (EIP-161).  Then the balance moves, and the account
is deleted only if it was created in the same transaction (EIP-6780).  The
frame ends after this builtin; the IR does not continue past it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.addresses import word_to_address
from evmkiln.builtins.impl.gas import COLD_ACCOUNT_ACCESS, SELFDESTRUCT_NEW_ACCOUNT, charge

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def selfdestruct(frame: Frame, beneficiary_word: int) -> None:
    if frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "SELFDESTRUCT in a static frame")
    host = frame.host
    address = frame.address
    beneficiary = word_to_address(beneficiary_word)
    destroy = host.created_in_transaction(address)
    if host.access_account(beneficiary):
        charge(frame, COLD_ACCOUNT_ACCESS)
    if host.account_is_empty(beneficiary) and host.get_balance(address):
        charge(frame, SELFDESTRUCT_NEW_ACCOUNT)
    host.selfdestruct(address, beneficiary, destroy)
