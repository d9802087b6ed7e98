"""py-evm's own class attributes, held again on the classes evmkiln makes.

CPython finds a class attribute through a cache of 4,096 entries shared by
the whole process; on a miss it walks the class's bases dictionary by
dictionary.  Python 3.11 caches method calls and instance attributes in the
instruction itself, but not properties, class attributes or class methods
read as attributes: those take the cache every time.  py-evm's computation
class has 26 bases and keeps its logger, ``is_error`` and ``get_precompiles``
on ``BaseComputation``, 17 bases down; a transaction's envelope runs enough
other Python between two messages to push them out of the cache, so every
frame paid the walk (1-2 µs each, measured) to read them.

:func:`hoist` copies such attributes, exactly as the class inherits them,
into the class's own namespace: the same objects, found at the first step.
"""

from __future__ import annotations

from collections.abc import Iterable


def hoist(cls: type, names: Iterable[str]) -> None:
    """Put on ``cls`` itself each attribute of ``names`` it inherits, as inherited.

    The raw attribute (a ``property``, ``classmethod`` or plain value, not
    what reading it gives) of the first class along ``cls``'s bases that
    defines the name, so ``cls`` behaves exactly as before.  Names ``cls``
    defines itself, or no base defines, are left alone.
    """
    for name in names:
        if name in cls.__dict__:
            continue
        for klass in cls.__mro__[1:]:
            if name in klass.__dict__:
                setattr(cls, name, klass.__dict__[name])
                break


COMPUTATION = (
    "logger",
    "get_precompiles",
    "is_error",
    "is_success",
    "error",
    "output",
    "should_burn_gas",
    "should_erase_return_data",
)
"""``BaseComputation``'s, read for every frame, call or transaction."""
STATE = (
    "coinbase",
    "timestamp",
    "block_number",
    "difficulty",
    "mix_hash",
    "gas_limit",
    "base_fee",
    "blob_base_fee",
    "state_root",
)
"""``BaseState``'s properties, read for every transaction (16 bases down)."""
VM = ("state",)
"""``VM.state``, read several times a transaction (20 bases down)."""
LEGACY_TRANSACTION = (
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "blob_versioned_hashes",
    "access_list",
)
"""A legacy transaction's properties the envelope reads (13 and 26 bases down)."""
