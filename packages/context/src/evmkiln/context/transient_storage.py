"""EIP-1153 transient storage in a dict with an undo journal.

py-evm keeps a transaction's transient storage in a ``JournalDB`` over a
``MemoryDB``, and every message frame records, then commits or discards, a
checkpoint in it: a few microseconds per frame, paid by every call whether
or not it uses TSTORE (most do not).  This class is the state class's
``_transient_storage_class`` in evmkiln's VM classes (py-evm's own seam):
the same API and the same results, with checkpoints that cost a list append
and commits that cost a list pop.

Values are kept as py-evm keeps them (big-endian ``bytes``, ``b""`` for
zero), so interpreted and compiled frames read each other's writes.
"""

from __future__ import annotations

from typing import Any

from eth.abc import TransientStorageAPI
from eth.typing import JournalDBCheckpoint
from eth.validation import validate_canonical_address, validate_is_bytes, validate_uint256
from eth_typing import Address

from evmkiln.context.journal_checkpoints import (
    TRANSIENT_ENTRY,
    Checkpoints,
    SharedJournal,
    close_checkpoint,
)
from evmkiln.context.state_layers import MISSING

EMPTY_VALUE = b""
_UNSET: Any = object()


class JournaledTransientStorage(TransientStorageAPI):
    """Transient storage of one state: values by ``(address, slot)``, an undo journal.

    The journal only grows while a checkpoint is open (during a message);
    closing the outermost checkpoint empties it.
    """

    __slots__ = ("_checkpoints", "_journal", "_shared", "_values")

    def __init__(self) -> None:
        self._values: dict[tuple[bytes, int], bytes] = {}
        self._journal: list[tuple[tuple[bytes, int], bytes]] = []
        """``(key, value before the write)``; ``_UNSET`` when the key had none."""
        self._checkpoints: Checkpoints = []
        self._shared: SharedJournal | None = None

    def share(self, shared: SharedJournal | None) -> bool:
        """Journal writes in an account database's journal from now on (``None``: in
        this storage's own again); whether that was possible.

        Shared, the database's checkpoints cover this storage, and
        :meth:`record`, :meth:`commit` and :meth:`discard` have nothing to do;
        every write drops the database's storage stamp of its account (and
        :meth:`clear` every stamp), so that a stamp vouches for transient
        storage too.
        The journal changes only while no checkpoint is open on either side,
        or when this storage holds and journals nothing: then everything it
        writes comes after the database's open checkpoints, which undo it.
        """
        current = self._shared
        if self._checkpoints or (current is not None and current.checkpoints):
            return False
        if shared is not None and shared.checkpoints and (self._values or self._journal):
            return False  # an empty storage may join: its writes come after every checkpoint
        if shared is not current:
            # A stamp handed out before vouched for other transient storage (this
            # storage unshared, or another state's on the same database).
            for journal in (current, shared):
                if journal is not None:
                    journal.stamps.clear()
        self._shared = shared
        self._journal.clear()
        return True

    @property
    def shared(self) -> SharedJournal | None:
        """The account database's journal this storage writes in, if any (see :meth:`share`)."""
        return self._shared

    def get_transient_storage(self, address: Address, slot: int) -> bytes:
        validate_canonical_address(address)
        validate_uint256(slot)
        return self._values.get((address, slot), EMPTY_VALUE)

    def set_transient_storage(self, address: Address, slot: int, value: bytes) -> None:
        validate_canonical_address(address)
        validate_uint256(slot)
        validate_is_bytes(value)
        key = (address, slot)
        values = self._values
        shared = self._shared
        if shared is not None:
            if shared.stamps:  # a table kept for the account no longer knows this slot
                shared.stamps.pop(address, None)
            if shared.checkpoints:
                shared.journal.append((TRANSIENT_ENTRY, values, key, values.get(key, MISSING)))
        elif self._checkpoints:
            self._journal.append((key, values.get(key, _UNSET)))
        values[key] = value

    def record(self, checkpoint: JournalDBCheckpoint) -> None:
        # Checkpoints come from py-evm's global counter, shared with the account
        # database's checkpoint of the same snapshot: each is recorded once.
        if self._shared is None:
            self._checkpoints.append((checkpoint, len(self._journal)))

    def commit(self, checkpoint: JournalDBCheckpoint) -> None:
        if self._shared is not None:
            return
        close_checkpoint(self._checkpoints, checkpoint)
        if not self._checkpoints:
            self._journal.clear()  # nothing can be undone past this point any more

    def discard(self, checkpoint: JournalDBCheckpoint) -> None:
        if self._shared is not None:
            return
        position = close_checkpoint(self._checkpoints, checkpoint)
        journal, values = self._journal, self._values
        while len(journal) > position:
            key, previous = journal.pop()
            if previous is _UNSET:
                del values[key]
            else:
                values[key] = previous

    def clear(self) -> None:
        # Journaled as py-evm's is: discarding a checkpoint recorded before the
        # clear brings the values back (eth-tester's calls snapshot the state,
        # run a whole transaction, whose end clears, and revert).
        values = self._values
        shared = self._shared
        if shared is not None:
            shared.stamps.clear()
            if shared.checkpoints:
                shared.journal.extend(
                    (TRANSIENT_ENTRY, values, key, value) for key, value in values.items()
                )
        elif self._checkpoints:
            self._journal.extend(values.items())
        values.clear()
