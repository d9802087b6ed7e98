"""What the reference run of a program did: opcodes executed and halts, in every frame.

The interpreter looks each opcode up in its computation class's ``opcodes``
table, in every frame; the observed reference is stock ``CancunVM`` with
that table replaced by one that notes the keys it is asked for (undefined
opcodes included: their lookup fails, after being noted), and with each
frame's failure noted when it ends.  Nothing else differs, so the reference
computes exactly what stock py-evm does, at the price of one Python call per
opcode.

Opcodes merely *present* in a program's code (decoded, PUSH data skipped)
are counted too: that measure exists for any pair of engines, including
``--against`` runs whose reference is not the interpreter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState

from evmkiln.codegen.evm.bytecode import decode
from evmkiln.codegen.evm.opcodes import OPCODES

DEFINED = frozenset(OPCODES)
"""The opcodes Cancun defines (INVALID included)."""


class Observation:
    """Opcodes looked up and frame halts (by py-evm class name) since the last reset."""

    def __init__(self) -> None:
        self.opcodes: set[int] = set()
        self.halts: Counter[str] = Counter()

    def reset(self) -> None:
        self.opcodes.clear()
        self.halts.clear()


class _RecordingOpcodes(dict[int, Any]):
    """The interpreter's opcode table, noting every opcode it is asked for."""

    def __init__(self, table: dict[int, Any], seen: set[int]) -> None:
        super().__init__(table)
        self._seen = seen

    def __getitem__(self, key: int) -> Any:
        self._seen.add(key)
        return super().__getitem__(key)


def observed_reference() -> tuple[type[Any], Observation]:
    """A stock ``CancunVM`` whose runs are noted in the returned :class:`Observation`."""
    observation = Observation()

    class ObservedComputation(CancunComputation):
        opcodes = _RecordingOpcodes(CancunComputation.opcodes, observation.opcodes)

        @classmethod
        def apply_computation(
            cls,
            state: Any,
            message: Any,
            transaction_context: Any,
            parent_computation: Any = None,
        ) -> Any:
            computation = super().apply_computation(
                state, message, transaction_context, parent_computation
            )
            if computation.is_error:
                observation.halts[type(computation.error).__name__] += 1
            return computation

    state_class = CancunState.configure(
        __name__="ObservedCancunState", computation_class=ObservedComputation
    )
    vm_class: type[Any] = CancunVM.configure(__name__="ObservedCancunVM", _state_class=state_class)
    return vm_class, observation


def present_opcodes(codes: Iterable[bytes]) -> frozenset[int]:
    """Opcode bytes that occur as instructions (not as PUSH data) in any of ``codes``."""
    found: set[int] = set()
    for code in codes:
        found.update(instr.op for instr in decode(code))
    return frozenset(found)
