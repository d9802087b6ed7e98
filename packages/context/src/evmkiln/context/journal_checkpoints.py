"""Checkpoints over an undo journal, as evmkiln's state journals keep them.

The flat account database and the transient storage each keep an undo list
and, per open py-evm checkpoint, the list's length when it was recorded.
Closing a checkpoint (commit or discard) closes every newer one with it, as
py-evm's ``JournalDB`` does.
"""

from __future__ import annotations

from eth.typing import JournalDBCheckpoint

Checkpoints = list[tuple[JournalDBCheckpoint, int]]
"""``(checkpoint, journal length when recorded)``, oldest first."""


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
