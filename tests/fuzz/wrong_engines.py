"""Engines that are wrong on purpose, loaded by the fuzzer as ``wrong_engines:<Class>``.

The fuzzer's own tests need engines that disagree with py-evm (to follow a
mismatch from detection to replay) and that kill their process (to follow a
crash); these are py-evm itself with one thing broken.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.opcode import as_opcode

from evmkiln.fuzz.generate import generate

CRASH_SEED = 11
CRASH_INDEX = 5
"""The program AbortingVM and HangingVM fail on (chosen by the tests: its calldata is
not empty)."""


def _wrong_xor(computation: Any) -> None:
    a, b = computation.stack_pop_ints(2)
    computation.stack_push_int(a ^ b ^ 1)


class _XorComputation(CancunComputation):  # type: ignore[misc]
    opcodes: ClassVar[dict[int, Any]] = {
        **CancunComputation.opcodes,
        0x18: as_opcode(_wrong_xor, "XOR", 3),
    }


WrongXorVM = CancunVM.configure(
    __name__="WrongXorVM",
    _state_class=CancunState.configure(computation_class=_XorComputation),
)
"""py-evm whose XOR flips the lowest bit of its result."""

_warm: set[bytes] = set()
"""Codes this process has run before."""


def _xor_wrong_when_warm(computation: Any) -> None:
    a, b = computation.stack_pop_ints(2)
    warm = bytes(computation.msg.code) in _warm
    computation.stack_push_int(a ^ b ^ 1 if warm else a ^ b)


class _WarmXorComputation(CancunComputation):  # type: ignore[misc]
    opcodes: ClassVar[dict[int, Any]] = {
        **CancunComputation.opcodes,
        0x18: as_opcode(_xor_wrong_when_warm, "XOR", 3),
    }

    @classmethod
    def apply_computation(
        cls, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None
    ) -> Any:
        try:
            return super().apply_computation(
                state, message, transaction_context, parent_computation
            )
        finally:
            _warm.add(bytes(message.code))


WarmXorVM = CancunVM.configure(
    __name__="WarmXorVM",
    _state_class=CancunState.configure(computation_class=_WarmXorComputation),
)
"""py-evm whose XOR goes wrong in code it has run before, as a stale cache would."""

_CRASH = generate(CRASH_SEED, CRASH_INDEX)


def _is_chosen(transaction: Any) -> bool:
    return (transaction.gas, bytes(transaction.data)) == (_CRASH.gas, _CRASH.calldata)


class AbortingVM(CancunVM):  # type: ignore[misc]
    """py-evm that aborts its process on one program's transaction, as a crashing backend would."""

    def apply_transaction(self, header: Any, transaction: Any) -> Any:
        if _is_chosen(transaction):
            os.abort()
        return super().apply_transaction(header, transaction)


class HangingVM(CancunVM):  # type: ignore[misc]
    """py-evm that hangs on the same program, as a backend stuck in a loop would."""

    def apply_transaction(self, header: Any, transaction: Any) -> Any:
        if _is_chosen(transaction):
            time.sleep(3600)
        return super().apply_transaction(header, transaction)
