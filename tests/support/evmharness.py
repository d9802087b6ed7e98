"""Compatibility name for :mod:`evmkiln.fuzz.execute`, where the transaction harness lives.

New tests import from the package; this module only keeps older imports working.
"""

from __future__ import annotations

from evmkiln.deep_stack import on_deep_stack as on_large_stack
from evmkiln.fuzz.execute import (
    CONTRACT_A,
    CONTRACT_B,
    CONTRACT_C,
    SENDER,
    SENDER_KEY,
    Outcome,
    execute,
    halt_category,
)

__all__ = [
    "CONTRACT_A",
    "CONTRACT_B",
    "CONTRACT_C",
    "SENDER",
    "SENDER_KEY",
    "Outcome",
    "execute",
    "halt_category",
    "on_large_stack",
]
