"""One fuzz program: the contracts of a small world and the transaction that drives them.

A program is plain data (picklable, JSON-able through the reproducer model),
so that it can be generated in one process, run in another, shrunk and
written to disk without anything else travelling with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evmkiln.codegen.evm.bytecode import decode
from evmkiln.fuzz.execute import CONTRACT_A, Outcome, execute


@dataclass(frozen=True)
class Program:
    """Codes at addresses, pre-state storage, and one transaction to ``to``."""

    codes: dict[bytes, bytes]
    calldata: bytes = b""
    value: int = 0
    gas: int = 1_000_000
    to: bytes = CONTRACT_A
    storage: dict[bytes, dict[int, int]] = field(default_factory=dict)
    family: str = ""
    """The generator family that built the main contract (empty for hand-made programs)."""

    def run(self, vm_class: Any) -> Outcome:
        """This program's transaction on a fresh chain run by ``vm_class``."""
        return execute(
            vm_class,
            self.codes,
            to=self.to,
            data=self.calldata,
            value=self.value,
            gas=self.gas,
            storage=self.storage,
        )

    def instruction_count(self) -> int:
        """Instructions over all codes (a PUSH with its data is one): the shrinker's measure."""
        return sum(len(decode(code)) for code in self.codes.values())

    def size(self) -> int:
        """Instructions, plus calldata words and pre-state slots: what shrinking reduces."""
        slots = sum(len(slots) for slots in self.storage.values())
        return self.instruction_count() + (len(self.calldata) + 31) // 32 + slots
