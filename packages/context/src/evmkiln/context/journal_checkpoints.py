"""Checkpoints over an undo journal, as evmkiln's state journals keep them.

The flat account database and the transient storage each keep an undo list
and, per open py-evm checkpoint, the list's length when it was recorded.
Closing a checkpoint (commit or discard) closes every newer one with it, as
py-evm's ``JournalDB`` does.  On the flat state the transient storage writes
its undo entries into the account database's list instead
(:class:`SharedJournal`), so one checkpoint covers both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.typing import JournalDBCheckpoint

Checkpoints = list[tuple[JournalDBCheckpoint, int]]
"""``(checkpoint, journal length when recorded)``, oldest first."""

TRANSIENT_ENTRY = 5
"""The kind of an entry a transient storage puts in a shared journal:
``(TRANSIENT_ENTRY, values, key, previous value or MISSING)``; discarding it
restores ``values[key]`` (deletes it for MISSING)."""


@dataclass(frozen=True, slots=True)
class SharedJournal:
    """An account database's undo journal and open checkpoints, lent to the state's
    transient storage so that one checkpoint covers both, and its storage stamps,
    which a transient write then drops too (the containers are changed in place
    only, for the database's whole life)."""

    journal: list[tuple[Any, ...]]
    checkpoints: Checkpoints
    stamps: dict[bytes, object]


def close_checkpoint(checkpoints: Checkpoints, checkpoint: JournalDBCheckpoint) -> int:
    """Close ``checkpoint`` and every newer one; the journal length it was recorded at.

    An unknown checkpoint raises ``ValueError`` and closes nothing.
    """
    for index in range(len(checkpoints) - 1, -1, -1):
        if checkpoints[index][0] == checkpoint:
            position = checkpoints[index][1]
            del checkpoints[index:]
            return position
    raise ValueError(f"checkpoint {checkpoint} is not active")
