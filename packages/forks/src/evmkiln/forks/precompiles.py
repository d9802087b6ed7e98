"""Which of py-evm's precompiles evmkiln runs its own version of, and why.

A replacement gives the same gas, output and errors as py-evm's function
and is faster for a reason py-evm could not help: the point evaluation
precompile (0x0a) re-reads its trusted setup on every call
(:mod:`evmkiln.forks.point_evaluation`).  BLS12-381 (Prague) and MODEXP's
empty base are fork classes' business (:mod:`evmkiln.forks.prague`).
BLAKE2's compression runs natively through py-evm's own optional
``blake2b-py``, a dependency of this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth.precompiles.point_evaluation import point_evaluation_precompile

from evmkiln.forks.point_evaluation import point_evaluation

REPLACEMENTS: Mapping[Any, Any] = {point_evaluation_precompile: point_evaluation}
"""py-evm's precompile functions and evmkiln's versions of them."""


def with_native_precompiles(table: Mapping[bytes, Any]) -> dict[bytes, Any]:
    """``table`` with every py-evm precompile evmkiln replaces swapped for its version."""
    return {address: REPLACEMENTS.get(fn, fn) for address, fn in table.items()}
