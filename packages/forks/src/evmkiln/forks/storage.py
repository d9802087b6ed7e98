"""Whether an account has storage, on whatever account database a state uses.

EIP-7610 makes an address with non-empty storage a creation collision, like
one with code or a nonce; py-evm's account databases have no public way to
ask.  An account database that knows (evmkiln's flat one) answers through
its own ``account_has_storage``; py-evm's ``AccountDB`` answers through the
account's storage root.
"""

from __future__ import annotations

from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth_typing import Address


def account_has_storage(account_db: Any, address: bytes) -> bool:
    """Whether ``address`` has any non-zero storage slot in ``account_db``.

    For py-evm's ``AccountDB`` this is the storage root of the account as the
    journal has it, which ``delete_account`` and ``delete_storage`` reset but
    an ``SSTORE`` changes only once the root is computed: exact for what
    the collision rule asks about (an address with neither code nor nonce,
    where no code of the running transaction can have written), and py-evm
    0.12 is pinned, so reading its ``_get_storage_root`` is stable.  Any other
    database without ``account_has_storage`` answers ``False``: py-evm's rule.
    """
    own = getattr(account_db, "account_has_storage", None)
    if own is not None:
        return bool(own(address))
    if isinstance(account_db, AccountDB):
        return account_db._get_storage_root(Address(address)) != BLANK_ROOT_HASH
    return False
