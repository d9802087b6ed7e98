"""Soak runs: many transactions over many contracts, with resident memory watched."""

from evmkiln.soak.run import Checkpoint, SoakResult, soak

__all__ = ["Checkpoint", "SoakResult", "soak"]
