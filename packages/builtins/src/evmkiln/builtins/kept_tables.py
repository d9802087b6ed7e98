"""Which storage tables a native backend keeps past their frame, and how many.

Both native backends keep a nested frame's table of storage slots for the
next frame of the transaction on the same account, trusted only while the
host's ``storage_stamp`` is unchanged (:class:`~evmkiln.builtins.host.Host`).
The policy is shared: which frames keep theirs, and how a bounded set of
kept tables takes a new one.
"""

from __future__ import annotations

from typing import TypeVar

from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT

Kept = TypeVar("Kept")


def worth_keeping(succeeded: bool, depth: int, entries: int) -> bool:
    """Whether a frame's table of ``entries`` entries is kept when the frame ends.

    Only a nested frame (a top-level frame meets no later frame of its
    transaction) that ended with STOP or RETURN (``succeeded``; a reverted
    frame's storage is rolled back), with something in the table and at
    most :data:`KEPT_ENTRIES_LIMIT` entries: every frame that adopts a table
    checks all its entries for held-back writes at its end.
    """
    return succeeded and depth > 0 and 0 < entries <= KEPT_ENTRIES_LIMIT


def keep_bounded(kept: dict[bytes, Kept], address: bytes, entry: Kept, limit: int) -> Kept | None:
    """Put ``entry`` in ``kept`` under ``address``; return the entry it displaced: the
    one kept for the same address, else the oldest when ``limit`` are kept.

    Safe when another thread takes entries meanwhile (the backends' sets of
    kept tables may be shared): the keys are copied, and a key gone missing
    displaces nothing.
    """
    displaced = kept.pop(address, None)
    if displaced is None and len(kept) >= limit:
        keys = list(kept)
        displaced = kept.pop(keys[0], None) if keys else None
    kept[address] = entry
    return displaced
