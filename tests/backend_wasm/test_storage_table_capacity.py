"""A frame's storage table holds what a storage-heavy frame reads: no slot crosses twice.

The table is direct-mapped; with too few entries, slots read early are pushed
out by later ones and every read of them crosses into the host again (a ray
tracer writing its image to storage crossed seven times per slot).
"""

from __future__ import annotations

import pytest
from wasm_compare import assert_same, count_crossings

from evmkiln.backend_wasm import runtime

SLOTS = 1000


def _read_twice(count: int) -> bytes:
    """SLOAD of slots 0 .. count-1, then of the same slots again; STOP."""
    reads = "".join(f"61{slot:04x}5450" for slot in range(count))
    return bytes.fromhex(reads * 2 + "00")


def test_a_thousand_slots_read_again_do_not_cross_again(monkeypatch: pytest.MonkeyPatch) -> None:
    crossed = count_crossings(monkeypatch)
    assert_same(_read_twice(SLOTS), gas=3_000_000)
    assert crossed.count(runtime.BUILTIN_IDS["sload"]) == SLOTS
