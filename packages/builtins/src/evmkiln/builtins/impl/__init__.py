"""The Python implementation of every builtin, keyed like :data:`~evmkiln.builtins.table.BUILTINS`.

Each implementation is ``fn(frame, *words) -> int | None``: the frame first,
then the opcode's stack operands in stack order (top first).  It charges
only the dynamic part of its opcode's gas, may raise
:class:`~evmkiln.builtins.halts.ExceptionalHalt`, and returns the pushed word
(or None for opcodes that push nothing).  Modules are grouped by area; the
rules they mirror are py-evm's Cancun semantics.
"""

from __future__ import annotations

from collections.abc import Callable

from evmkiln.builtins.impl import (
    accounts,
    block,
    calls,
    copying,
    create,
    env,
    hashing,
    logs,
    selfdestruct,
    storage,
)

Builtin = Callable[..., int | None]

IMPLEMENTATIONS: dict[str, Builtin] = {
    "keccak256": hashing.keccak256,
    # frame-local environment
    "address": env.address,
    "caller": env.caller,
    "callvalue": env.callvalue,
    "calldataload": env.calldataload,
    "calldatasize": env.calldatasize,
    "calldatacopy": copying.calldatacopy,
    "codecopy": copying.codecopy,
    "returndatasize": env.returndatasize,
    "returndatacopy": copying.returndatacopy,
    "mcopy": copying.mcopy,
    # transaction and block
    "origin": block.origin,
    "gasprice": block.gasprice,
    "blockhash": block.blockhash,
    "coinbase": block.coinbase,
    "timestamp": block.timestamp,
    "number": block.number,
    "prevrandao": block.prevrandao,
    "gaslimit": block.gaslimit,
    "chainid": block.chainid,
    "selfbalance": block.selfbalance,
    "basefee": block.basefee,
    "blobhash": block.blobhash,
    "blobbasefee": block.blobbasefee,
    # accounts
    "balance": accounts.balance,
    "extcodesize": accounts.extcodesize,
    "extcodecopy": accounts.extcodecopy,
    "extcodehash": accounts.extcodehash,
    # storage
    "sload": storage.sload,
    "sstore": storage.sstore,
    "tload": storage.tload,
    "tstore": storage.tstore,
    # logs
    "log0": logs.log0,
    "log1": logs.log1,
    "log2": logs.log2,
    "log3": logs.log3,
    "log4": logs.log4,
    # calls and creation
    "create": create.create,
    "call": calls.call,
    "callcode": calls.callcode,
    "delegatecall": calls.delegatecall,
    "create2": create.create2,
    "staticcall": calls.staticcall,
    "selfdestruct": selfdestruct.selfdestruct,
}
"""Every builtin's implementation by name."""

__all__ = ["IMPLEMENTATIONS", "Builtin"]
