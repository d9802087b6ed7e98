"""Value types of the IR.

``i256`` is an EVM word, ``i64`` a gas amount, memory offset or size, stack
pointer; ``i1`` a branch condition.  Integers are unsigned bit patterns; the
instructions that care about sign (``sdiv``, ``slt``, ``sar``...) say so.
"""

from __future__ import annotations

import enum


class Type(enum.Enum):
    I1 = "i1"
    I64 = "i64"
    I256 = "i256"

    @property
    def bits(self) -> int:
        return {"i1": 1, "i64": 64, "i256": 256}[self.value]

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def __str__(self) -> str:
        return self.value


TYPE_BY_NAME: dict[str, Type] = {t.value: t for t in Type}
