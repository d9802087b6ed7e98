"""A process's memory, read from ``/proc`` (Linux), and this process's address-space limit."""

from __future__ import annotations

import os
import resource


def _statm_pages(pid: int | None, field: int) -> int:
    path = f"/proc/{'self' if pid is None else pid}/statm"
    try:
        with open(path) as statm:
            return int(statm.read().split()[field])
    except (OSError, ValueError, IndexError):
        return 0


def process_rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (this process by default); 0 where ``/proc`` has none."""
    return _statm_pages(pid, 1) * os.sysconf("SC_PAGE_SIZE")


def process_address_space_bytes(pid: int | None = None) -> int:
    """Address space ``pid`` has mapped (what ``RLIMIT_AS`` limits); 0 where ``/proc`` has none."""
    return _statm_pages(pid, 0) * os.sysconf("SC_PAGE_SIZE")


def address_space_limit() -> int | None:
    """This process's soft ``RLIMIT_AS`` (``ulimit -v``) in bytes, or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft
