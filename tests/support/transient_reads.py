"""Counting the transient reads compiled frames ask the host for.

A native backend answers TLOAD of a slot its storage table knows without
the host; tests count the reads that do reach it to show a table was used.
"""

from __future__ import annotations

import pytest

from evmkiln.context.pyevm_host import PyEvmHost


def count_transient_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The slots of the transient reads compiled frames ask the host for from now on."""
    reads: list[int] = []
    real = PyEvmHost.get_transient

    def counted(host: PyEvmHost, address: bytes, slot: int) -> int:
        reads.append(slot)
        return real(host, address, slot)

    monkeypatch.setattr(PyEvmHost, "get_transient", counted)
    return reads
