"""The opcode tables of the supported forks, declared once as data.

Every other part of the compiler (decoding, block analysis, lowering, the tests
that compare against py-evm's own table) reads these tables instead of hard-
coding facts about opcodes. :data:`OPCODES` is Cancun's; a later fork's table
(:func:`opcodes_for`) is its predecessor's plus what it added, so a byte that a
fork does not define still decodes as an undefined opcode there. ``static_gas``
is the part of an opcode's gas that does not depend on its operands or on
state; whatever else it costs is charged by IR (EXP's byte cost, memory
expansion of MLOAD/MSTORE) or by the builtin that implements it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """How lowering treats an opcode."""

    PURE = "pure"  # maps to one IR instruction on words
    BUILTIN = "builtin"  # a call into the builtins table
    PUSH = "push"
    DUP = "dup"
    SWAP = "swap"
    POP = "pop"
    JUMP = "jump"
    JUMPI = "jumpi"
    JUMPDEST = "jumpdest"
    STOP = "stop"
    RETURN = "return"
    REVERT = "revert"
    INVALID = "invalid"  # the designated INVALID 0xFE
    SELFDESTRUCT = "selfdestruct"
    SPECIAL = "special"  # lowered by a dedicated rule (PC, MSIZE, GAS, MLOAD, ...)


@dataclass(frozen=True, slots=True)
class OpInfo:
    code: int
    name: str
    pops: int
    pushes: int
    static_gas: int
    kind: Kind
    ir_op: str = ""
    """For PURE opcodes: the IR instruction; for BUILTIN: the builtin name."""
    immediate_size: int = 0

    @property
    def is_terminator(self) -> bool:
        return self.kind in _TERMINATORS


_TERMINATORS = frozenset(
    {
        Kind.JUMP,
        Kind.JUMPI,
        Kind.STOP,
        Kind.RETURN,
        Kind.REVERT,
        Kind.INVALID,
        Kind.SELFDESTRUCT,
    }
)

_TABLE: list[OpInfo] = []


def _op(
    code: int, name: str, pops: int, pushes: int, gas: int, kind: Kind, ir_op: str = ""
) -> None:
    _TABLE.append(OpInfo(code, name, pops, pushes, gas, kind, ir_op))


P, B, S = Kind.PURE, Kind.BUILTIN, Kind.SPECIAL

_op(0x00, "STOP", 0, 0, 0, Kind.STOP)
_op(0x01, "ADD", 2, 1, 3, P, "add")
_op(0x02, "MUL", 2, 1, 5, P, "mul")
_op(0x03, "SUB", 2, 1, 3, P, "sub")
_op(0x04, "DIV", 2, 1, 5, P, "div")
_op(0x05, "SDIV", 2, 1, 5, P, "sdiv")
_op(0x06, "MOD", 2, 1, 5, P, "mod")
_op(0x07, "SMOD", 2, 1, 5, P, "smod")
_op(0x08, "ADDMOD", 3, 1, 8, P, "addmod")
_op(0x09, "MULMOD", 3, 1, 8, P, "mulmod")
_op(0x0A, "EXP", 2, 1, 10, S, "exp")
_op(0x0B, "SIGNEXTEND", 2, 1, 5, P, "signextend")
_op(0x10, "LT", 2, 1, 3, P, "lt")
_op(0x11, "GT", 2, 1, 3, P, "gt")
_op(0x12, "SLT", 2, 1, 3, P, "slt")
_op(0x13, "SGT", 2, 1, 3, P, "sgt")
_op(0x14, "EQ", 2, 1, 3, P, "eq")
_op(0x15, "ISZERO", 1, 1, 3, P, "iszero")
_op(0x16, "AND", 2, 1, 3, P, "and")
_op(0x17, "OR", 2, 1, 3, P, "or")
_op(0x18, "XOR", 2, 1, 3, P, "xor")
_op(0x19, "NOT", 1, 1, 3, P, "not")
_op(0x1A, "BYTE", 2, 1, 3, P, "byte")
_op(0x1B, "SHL", 2, 1, 3, P, "shl")
_op(0x1C, "SHR", 2, 1, 3, P, "shr")
_op(0x1D, "SAR", 2, 1, 3, P, "sar")
_op(0x20, "KECCAK256", 2, 1, 30, B, "keccak256")
_op(0x30, "ADDRESS", 0, 1, 2, B, "address")
_op(0x31, "BALANCE", 1, 1, 0, B, "balance")
_op(0x32, "ORIGIN", 0, 1, 2, B, "origin")
_op(0x33, "CALLER", 0, 1, 2, B, "caller")
_op(0x34, "CALLVALUE", 0, 1, 2, B, "callvalue")
_op(0x35, "CALLDATALOAD", 1, 1, 3, B, "calldataload")
_op(0x36, "CALLDATASIZE", 0, 1, 2, B, "calldatasize")
_op(0x37, "CALLDATACOPY", 3, 0, 3, B, "calldatacopy")
_op(0x38, "CODESIZE", 0, 1, 2, S)
_op(0x39, "CODECOPY", 3, 0, 3, B, "codecopy")
_op(0x3A, "GASPRICE", 0, 1, 2, B, "gasprice")
_op(0x3B, "EXTCODESIZE", 1, 1, 0, B, "extcodesize")
_op(0x3C, "EXTCODECOPY", 4, 0, 0, B, "extcodecopy")
_op(0x3D, "RETURNDATASIZE", 0, 1, 2, B, "returndatasize")
_op(0x3E, "RETURNDATACOPY", 3, 0, 3, B, "returndatacopy")
_op(0x3F, "EXTCODEHASH", 1, 1, 0, B, "extcodehash")
_op(0x40, "BLOCKHASH", 1, 1, 20, B, "blockhash")
_op(0x41, "COINBASE", 0, 1, 2, B, "coinbase")
_op(0x42, "TIMESTAMP", 0, 1, 2, B, "timestamp")
_op(0x43, "NUMBER", 0, 1, 2, B, "number")
_op(0x44, "PREVRANDAO", 0, 1, 2, B, "prevrandao")
_op(0x45, "GASLIMIT", 0, 1, 2, B, "gaslimit")
_op(0x46, "CHAINID", 0, 1, 2, B, "chainid")
_op(0x47, "SELFBALANCE", 0, 1, 5, B, "selfbalance")
_op(0x48, "BASEFEE", 0, 1, 2, B, "basefee")
_op(0x49, "BLOBHASH", 1, 1, 3, B, "blobhash")
_op(0x4A, "BLOBBASEFEE", 0, 1, 2, B, "blobbasefee")
_op(0x50, "POP", 1, 0, 2, Kind.POP)
_op(0x51, "MLOAD", 1, 1, 3, S)
_op(0x52, "MSTORE", 2, 0, 3, S)
_op(0x53, "MSTORE8", 2, 0, 3, S)
_op(0x54, "SLOAD", 1, 1, 0, B, "sload")
_op(0x55, "SSTORE", 2, 0, 0, B, "sstore")
_op(0x56, "JUMP", 1, 0, 8, Kind.JUMP)
_op(0x57, "JUMPI", 2, 0, 10, Kind.JUMPI)
_op(0x58, "PC", 0, 1, 2, S)
_op(0x59, "MSIZE", 0, 1, 2, S)
_op(0x5A, "GAS", 0, 1, 2, S)
_op(0x5B, "JUMPDEST", 0, 0, 1, Kind.JUMPDEST)
_op(0x5C, "TLOAD", 1, 1, 100, B, "tload")
_op(0x5D, "TSTORE", 2, 0, 100, B, "tstore")
_op(0x5E, "MCOPY", 3, 0, 3, B, "mcopy")
_op(0x5F, "PUSH0", 0, 1, 2, Kind.PUSH)
for _n in range(1, 33):
    _TABLE.append(OpInfo(0x5F + _n, f"PUSH{_n}", 0, 1, 3, Kind.PUSH, "", _n))
for _n in range(1, 17):
    _op(0x7F + _n, f"DUP{_n}", _n, _n + 1, 3, Kind.DUP)
for _n in range(1, 17):
    _op(0x8F + _n, f"SWAP{_n}", _n + 1, _n + 1, 3, Kind.SWAP)
for _n in range(5):
    _op(0xA0 + _n, f"LOG{_n}", 2 + _n, 0, 375, B, f"log{_n}")
_op(0xF0, "CREATE", 3, 1, 32000, B, "create")
_op(0xF1, "CALL", 7, 1, 0, B, "call")
_op(0xF2, "CALLCODE", 7, 1, 0, B, "callcode")
_op(0xF3, "RETURN", 2, 0, 0, Kind.RETURN)
_op(0xF4, "DELEGATECALL", 6, 1, 0, B, "delegatecall")
_op(0xF5, "CREATE2", 4, 1, 32000, B, "create2")
_op(0xFA, "STATICCALL", 6, 1, 0, B, "staticcall")
_op(0xFD, "REVERT", 2, 0, 0, Kind.REVERT)
_op(0xFE, "INVALID", 0, 0, 0, Kind.INVALID)
_op(0xFF, "SELFDESTRUCT", 1, 0, 5000, Kind.SELFDESTRUCT)

OPCODES: dict[int, OpInfo] = {info.code: info for info in _TABLE}
"""Every opcode defined in Cancun; a byte not in here is an undefined opcode."""

BY_NAME: dict[str, OpInfo] = {info.name: info for info in _TABLE}

PRAGUE_OPCODES: dict[int, OpInfo] = dict(OPCODES)
"""Prague added no opcode (EIP-7702 changes what calls run, not the instruction set)."""

OSAKA_OPCODES: dict[int, OpInfo] = {
    **PRAGUE_OPCODES,
    0x1E: OpInfo(0x1E, "CLZ", 1, 1, 5, P, "clz"),  # EIP-7939
}

_BY_FORK: dict[str, dict[int, OpInfo]] = {
    "cancun": OPCODES,
    "prague": PRAGUE_OPCODES,
    "osaka": OSAKA_OPCODES,
}

FORKS: tuple[str, ...] = tuple(_BY_FORK)
"""The forks the compiler has an opcode table for, oldest first."""


def opcodes_for(fork: str) -> dict[int, OpInfo]:
    """The opcode table of ``fork`` (lower-case name); ``ValueError`` for an unknown fork."""
    table = _BY_FORK.get(fork)
    if table is None:
        raise ValueError(f"no opcode table for fork {fork!r}: known forks {', '.join(FORKS)}")
    return table
