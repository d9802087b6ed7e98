"""The declared signature table of every builtin.

This table is the single source of truth that lowering, the verifier and every
backend read: a builtin's name, the IR types of its parameters and results, and
the effects a backend must respect around the call.  The Python implementation
of each entry lives in :mod:`evmkiln.builtins.impl`; a test keeps the two in step.

Conventions shared by all builtins:

* Arguments are passed as the raw EVM words popped by the opcode (``i256``), in
  stack order (top of stack first), so huge offsets and sizes reach the builtin
  unchanged and it applies the exact EVM rules to them.
* A builtin charges only the *dynamic* part of its opcode's gas (memory
  expansion, copy words, cold access, value transfer, ...).  The opcode's static
  gas is charged by the IR, before the call.
* ``observes_gas`` builtins read the remaining gas (CALL's 63/64 rule, SSTORE's
  stipend check): all static gas up to and including their opcode must be
  charged before they are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IRType = Literal["i1", "i64", "i256"]


@dataclass(frozen=True, slots=True)
class BuiltinSig:
    """Declared signature and effects of one builtin."""

    name: str
    params: tuple[IRType, ...]
    results: tuple[IRType, ...]
    can_halt: bool = False
    """May raise :class:`~evmkiln.builtins.halts.ExceptionalHalt`."""
    reads_memory: bool = False
    writes_memory: bool = False
    """May read or grow/write the frame's memory (backends sync memory around it)."""
    observes_gas: bool = False
    """Reads the remaining gas; static gas must be settled before the call."""
    uses_host: bool = False
    """Crosses into the host (chain state, logs, sub-calls)."""
    runs_frames: bool = False
    """Runs other frames (calls, creates): any storage, the caller's own included,
    may change under it, so a backend's copy of storage values is stale after it."""
    opcode: int | None = None
    """The EVM opcode this builtin implements, if any."""


W: IRType = "i256"


def _sig(
    name: str,
    nparams: int,
    nresults: int,
    opcode: int | None,
    **flags: bool,
) -> BuiltinSig:
    return BuiltinSig(
        name=name,
        params=(W,) * nparams,
        results=(W,) * nresults,
        opcode=opcode,
        **flags,
    )


_MEM_R = {"can_halt": True, "reads_memory": True}
_MEM_W = {"can_halt": True, "writes_memory": True}
_HOST = {"uses_host": True}
_CALL = {
    "can_halt": True,
    "reads_memory": True,
    "writes_memory": True,
    "observes_gas": True,
    "uses_host": True,
    "runs_frames": True,
}

_ENTRIES: tuple[BuiltinSig, ...] = (
    # -- hashing ------------------------------------------------------------
    _sig("keccak256", 2, 1, 0x20, **_MEM_R),
    # -- environment: frame-local reads --------------------------------------
    _sig("address", 0, 1, 0x30),
    _sig("caller", 0, 1, 0x33),
    _sig("callvalue", 0, 1, 0x34),
    _sig("calldataload", 1, 1, 0x35),
    _sig("calldatasize", 0, 1, 0x36),
    _sig("calldatacopy", 3, 0, 0x37, **_MEM_W),
    _sig("codecopy", 3, 0, 0x39, **_MEM_W),
    _sig("returndatasize", 0, 1, 0x3D),
    _sig("returndatacopy", 3, 0, 0x3E, **_MEM_W),
    _sig("mcopy", 3, 0, 0x5E, can_halt=True, reads_memory=True, writes_memory=True),
    # -- environment: transaction and block (host reads, cannot halt) --------
    _sig("origin", 0, 1, 0x32, **_HOST),
    _sig("gasprice", 0, 1, 0x3A, **_HOST),
    _sig("blockhash", 1, 1, 0x40, **_HOST),
    _sig("coinbase", 0, 1, 0x41, **_HOST),
    _sig("timestamp", 0, 1, 0x42, **_HOST),
    _sig("number", 0, 1, 0x43, **_HOST),
    _sig("prevrandao", 0, 1, 0x44, **_HOST),
    _sig("gaslimit", 0, 1, 0x45, **_HOST),
    _sig("chainid", 0, 1, 0x46, **_HOST),
    _sig("selfbalance", 0, 1, 0x47, **_HOST),
    _sig("basefee", 0, 1, 0x48, **_HOST),
    _sig("blobhash", 1, 1, 0x49, **_HOST),
    _sig("blobbasefee", 0, 1, 0x4A, **_HOST),
    # -- accounts (EIP-2929 access costs: can run out of gas) ----------------
    _sig("balance", 1, 1, 0x31, can_halt=True, uses_host=True),
    _sig("extcodesize", 1, 1, 0x3B, can_halt=True, uses_host=True),
    _sig("extcodecopy", 4, 0, 0x3C, **_MEM_W, uses_host=True),
    _sig("extcodehash", 1, 1, 0x3F, can_halt=True, uses_host=True),
    # -- storage -------------------------------------------------------------
    _sig("sload", 1, 1, 0x54, can_halt=True, uses_host=True),
    _sig("sstore", 2, 0, 0x55, can_halt=True, observes_gas=True, uses_host=True),
    _sig("tload", 1, 1, 0x5C, uses_host=True),
    _sig("tstore", 2, 0, 0x5D, can_halt=True, uses_host=True),
    # -- logs ----------------------------------------------------------------
    _sig("log0", 2, 0, 0xA0, **_MEM_R, uses_host=True),
    _sig("log1", 3, 0, 0xA1, **_MEM_R, uses_host=True),
    _sig("log2", 4, 0, 0xA2, **_MEM_R, uses_host=True),
    _sig("log3", 5, 0, 0xA3, **_MEM_R, uses_host=True),
    _sig("log4", 6, 0, 0xA4, **_MEM_R, uses_host=True),
    # -- calls and creation --------------------------------------------------
    _sig("create", 3, 1, 0xF0, **_CALL),
    _sig("call", 7, 1, 0xF1, **_CALL),
    _sig("callcode", 7, 1, 0xF2, **_CALL),
    _sig("delegatecall", 6, 1, 0xF4, **_CALL),
    _sig("create2", 4, 1, 0xF5, **_CALL),
    _sig("staticcall", 6, 1, 0xFA, **_CALL),
    _sig("selfdestruct", 1, 0, 0xFF, can_halt=True, uses_host=True),
)

BUILTINS: dict[str, BuiltinSig] = {sig.name: sig for sig in _ENTRIES}
"""Every builtin by name."""

BUILTIN_FOR_OPCODE: dict[int, BuiltinSig] = {
    sig.opcode: sig for sig in _ENTRIES if sig.opcode is not None
}
"""The builtin implementing an EVM opcode, for the opcodes lowered to a call."""
