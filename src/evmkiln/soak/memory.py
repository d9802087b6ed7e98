"""Resident memory of a process, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os


def process_rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (this process by default); 0 where ``/proc`` has none."""
    path = f"/proc/{'self' if pid is None else pid}/statm"
    try:
        with open(path) as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")
