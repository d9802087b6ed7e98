"""Exceptional halts as py-evm exceptions, worded as py-evm words them.

A compiled frame reports an exceptional halt as a :class:`HaltKind`; the
context re-raises it as the exception py-evm's interpreter would have raised
at the same point, inside the computation's ``with`` block, so py-evm's own
``__exit__`` burns the frame's gas, erases its return data and records the
error exactly as it does for interpreted frames.

The message follows py-evm's text too, because test suites match on it
(eth-tester passes ``str(computation.error)`` on as ``TransactionFailed``;
``pytest.raises(..., match="Out of gas")`` is common).  Where py-evm's text
holds a value that compiled code does not know, the shape is kept and the
value is ``?``:

- the program counter (``Invalid opcode 0xfe @ ?``): generated code halts by
  kind and keeps no position, so the counter is given only when the code
  holds exactly one instruction that can halt that way (then it is that one);
- out-of-gas amounts when a segment's static gas is short (generated code
  charges a segment's static gas at once, see docs/gas.md); builtins report
  what they needed and what the frame had, where ``Remaining`` may be lower
  than the interpreter's by static gas charged ahead within the segment (it is
  exact for the gas observers: calls, creates, SSTORE), so every out of gas
  but those observers' own counts as inexact;
- which instruction underflowed the stack (checked once per block).

docs/integrations.md lists every halt with both texts.

Where the text (or, for a jump into PUSH data, the class) would not be
py-evm's, :func:`is_inexact` says so, and a VM class that replays such halts
runs the message again with that frame on the interpreter (see
``CompiledFrames.apply_message``): the error is then py-evm's own.
"""

from __future__ import annotations

from collections.abc import Callable, Container
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
from evmkiln.codegen.evm.bytecode import PUSH1, PUSH32, instruction_pcs

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

STATIC_CONTEXT_MESSAGE = "Cannot modify state while inside of a STATICCALL context"
"""py-evm's one text for every write in a static frame (SSTORE, TSTORE, LOG,
CREATE, CALL with value, SELFDESTRUCT)."""

_EIP170_LIMIT = 24576
_EIP3860_LIMIT = 2 * _EIP170_LIMIT
_INVALID = 0xFE


def _out_of_gas(facts: dict[str, int | str]) -> tuple[Any, ...]:
    if "sentry" in facts:
        # py-evm passes the gas left as a second argument: str() shows the tuple.
        return ("Net-metered SSTORE always fails below 2300 gas, per EIP-2200", facts["sentry"])
    if "initcode_size" in facts:
        return (
            f"Contract code size exceeds EIP-3860 limit of {_EIP3860_LIMIT}. "
            f"Got code of size: {facts['initcode_size']}",
        )
    if "code_size" in facts:
        return (
            f"Contract code size exceeds EIP170 limit of {_EIP170_LIMIT}."
            f"  Got code of size: {facts['code_size']}",
        )
    needed = facts.get("needed", "?")
    remaining = facts.get("remaining", "?")
    reason = facts.get("reason", "compiled code")
    return (f"Out of gas: Needed {needed} - Remaining {remaining} - Reason: {reason}",)


def _instruction_positions(code: bytes, halts_here: Callable[[int], bool]) -> list[int]:
    """Program counters of instructions (not PUSH data) whose opcode satisfies ``halts_here``."""
    return [pc for pc in instruction_pcs(code) if halts_here(code[pc])]


def _invalid_opcode(kind: HaltKind, code: bytes | None, defined: Container[int] | None) -> str:
    """py-evm's ``Invalid opcode 0x.. @ pc``, with ``?`` for what the halt does not determine."""
    if code is None:
        return (
            "Invalid opcode 0x?? @ ?"
            if kind is HaltKind.INVALID_OPCODE
            else "Invalid opcode 0xfe @ ?"
        )
    if kind is HaltKind.INVALID_INSTRUCTION:
        positions = _instruction_positions(code, lambda op: op == _INVALID)
    elif defined is not None:
        positions = _instruction_positions(code, lambda op: op != _INVALID and op not in defined)
    else:
        positions = []
    values = {code[pc] for pc in positions}
    value = f"{values.pop():x}" if len(values) == 1 else "??"
    where = str(positions[0]) if len(positions) == 1 else "?"
    return f"Invalid opcode 0x{value} @ {where}"


def _jumpdest_in_push_data(code: bytes) -> bool:
    """Whether some PUSH's data holds a 0x5B byte (a jump there is py-evm's InvalidInstruction)."""
    pc = 0
    n = len(code)
    while pc < n:
        op = code[pc]
        if PUSH1 <= op <= PUSH32:
            width = op - PUSH1 + 1
            if 0x5B in code[pc + 1 : pc + 1 + width]:
                return True
            pc += width
        pc += 1
    return False


def is_inexact(halt: ExceptionalHalt, error: BaseException, code: bytes) -> bool:
    """Whether ``error`` (made by :func:`pyevm_error` for ``halt``) may differ from py-evm's.

    True for a text holding a ``?``, for stack errors (compiled code checks a
    block's stack needs at its entry, so the interpreter names another
    instruction, or halts otherwise before it gets there), for a bad jump in
    code where a 0x5B byte sits inside PUSH data (the interpreter raises
    InvalidInstruction when the target is that byte), and for out of gas
    except where the amounts are the gas observers' own (the EIP-2200 sentry,
    the size limits): generated code charges a segment's static gas ahead,
    so even a builtin's ``Remaining`` can be lower than the interpreter's.
    """
    kind = halt.kind
    if kind is HaltKind.OUT_OF_GAS:
        facts = halt.facts
        return not ("sentry" in facts or "initcode_size" in facts or "code_size" in facts)
    if kind is HaltKind.STACK_UNDERFLOW or kind is HaltKind.STACK_OVERFLOW:
        return True
    if kind is HaltKind.INVALID_JUMP:
        return _jumpdest_in_push_data(code)
    return "?" in str(error)


def pyevm_error(
    halt: ExceptionalHalt,
    code: bytes | None = None,
    defined_opcodes: Container[int] | None = None,
) -> Any:
    """The py-evm exception instance to raise for ``halt``, worded as py-evm's interpreter.

    ``code`` is the halted frame's code and ``defined_opcodes`` the opcodes
    the fork defines (the computation's ``opcodes`` table); with them an
    invalid-opcode halt names the opcode and its position when the code
    leaves only one candidate.
    """
    kind = halt.kind
    cls = PYEVM_ERROR_FOR_HALT[kind]
    facts = halt.facts
    args: tuple[Any, ...]
    if kind is HaltKind.OUT_OF_GAS:
        args = _out_of_gas(facts)
    elif kind is HaltKind.CODE_SIZE_LIMIT:
        args = _out_of_gas({"code_size": facts.get("code_size", "?")})
    elif kind is HaltKind.STACK_UNDERFLOW:
        # py-evm names the instruction ("... for SWAP1", "Wanted 2 stack items, only had 1");
        # compiled code checks a whole block's stack needs at its entry.
        args = ("Insufficient stack items",)
    elif kind is HaltKind.STACK_OVERFLOW:
        args = ("Stack limit reached",)
    elif kind in (HaltKind.INVALID_OPCODE, HaltKind.INVALID_INSTRUCTION):
        args = (_invalid_opcode(kind, code, defined_opcodes),)
    elif kind is HaltKind.INVALID_JUMP:
        args = ("Invalid Jump Destination",)
    elif kind is HaltKind.WRITE_PROTECTION:
        args = (STATIC_CONTEXT_MESSAGE,)
    elif kind is HaltKind.RETURNDATA_OUT_OF_BOUNDS:
        offset = facts.get("offset", "?")
        size = facts.get("size", "?")
        end = offset + size if isinstance(offset, int) and isinstance(size, int) else "?"
        args = (
            "Return data length is not sufficient to satisfy request.  Asked "
            f"for data from index {offset} to {end}.  "
            f"Return data is {facts.get('available', '?')} bytes in length.",
        )
    elif kind is HaltKind.CREATE_COLLISION:
        address = facts.get("address")
        args = (
            "Address collision while creating contract"
            + (f": {address}" if address is not None else ""),
        )
    elif kind is HaltKind.INVALID_CODE_PREFIX:
        args = ("Contract code begins with EIP3541 reserved byte '0xEF'.",)
    else:  # pragma: no cover - every kind is handled above
        args = (str(halt),)
    return cls(*args)
