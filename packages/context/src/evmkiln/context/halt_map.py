"""Exceptional halts as py-evm exceptions.

A compiled frame reports an exceptional halt as a :class:`HaltKind`; the
context re-raises it as the exception py-evm's interpreter would have raised
at the same point, inside the computation's ``with`` block, so py-evm's own
``__exit__`` burns the frame's gas, erases its return data and records the
error exactly as it does for interpreted frames.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    ReservedBytesInCode,
    WriteProtection,
)

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind

PYEVM_ERROR_FOR_HALT: MappingProxyType[HaltKind, Any] = MappingProxyType(
    {
        HaltKind.OUT_OF_GAS: OutOfGas,
        HaltKind.STACK_UNDERFLOW: InsufficientStack,
        HaltKind.STACK_OVERFLOW: FullStack,
        # py-evm raises InvalidInstruction both for undefined opcodes and for 0xFE.
        HaltKind.INVALID_OPCODE: InvalidInstruction,
        HaltKind.INVALID_INSTRUCTION: InvalidInstruction,
        HaltKind.INVALID_JUMP: InvalidJumpDestination,
        HaltKind.WRITE_PROTECTION: WriteProtection,
        HaltKind.RETURNDATA_OUT_OF_BOUNDS: OutOfBoundsRead,
        HaltKind.CREATE_COLLISION: ContractCreationCollision,
        # EIP-170's code size limit is an out-of-gas condition in py-evm.
        HaltKind.CODE_SIZE_LIMIT: OutOfGas,
        HaltKind.INVALID_CODE_PREFIX: ReservedBytesInCode,
    }
)
"""The py-evm exception class raised for each halt kind."""


def pyevm_error(halt: ExceptionalHalt) -> Any:
    """The py-evm exception instance to raise for ``halt``."""
    return PYEVM_ERROR_FOR_HALT[halt.kind](str(halt))
