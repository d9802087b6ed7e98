"""Running a script on a pickle in a fresh Python process (nothing of evmkiln imported).

What a pickle names must be enough to rebuild its objects there: the tests of
the classes evmkiln makes at run time (transactions, blocks) load their
pickles this way.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any


def unpickled_elsewhere(script: str, payload: Any) -> str:
    """What ``script`` prints in a fresh process, given ``pickle.dumps(payload)`` on stdin."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(payload),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return done.stdout.decode()
