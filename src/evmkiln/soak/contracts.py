"""The soak run's contracts: many distinct codes doing the work real calls do.

Each contract is one of a few families (a storage counter that logs, a hash
loop, a memory writer, a forwarder that calls the next contract), stamped
with its own index so that every code, hence every code hash and compiled
function, is distinct.  Calldata picks the slot, loop count or offset, so
one code sees varied runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from evmkiln.codegen.evm.opcodes import BY_NAME

Item = int | str | bytes
"""An int is pushed (shortest PUSH), a str is an opcode, bytes are emitted as they are."""


def push(value: int) -> bytes:
    if value == 0:
        return bytes([BY_NAME["PUSH0"].code])
    size = (value.bit_length() + 7) // 8
    return bytes([BY_NAME["PUSH1"].code + size - 1]) + value.to_bytes(size, "big")


def assemble(items: Sequence[Item]) -> bytes:
    out = bytearray()
    for item in items:
        if isinstance(item, bytes):
            out += item
        elif isinstance(item, str):
            out.append(BY_NAME[item].code)
        else:
            out += push(item)
    return bytes(out)


def contract_address(index: int) -> bytes:
    return (0x5A00_0000_0000_0000_0000_0000_0000_0000_0000_0000 + index).to_bytes(20, "big")


FAMILIES = ("counter", "hasher", "memory", "forwarder")

# A loop body jumps back to a fixed pc: the stamp (PUSH32 + POP, 34 bytes) comes first.
_STAMP_SIZE = 34


def _stamp(index: int) -> list[Item]:
    return [b"\x7f" + (0xC0DE << 240 | index).to_bytes(32, "big"), "POP"]


def _counter() -> list[Item]:
    # slot = calldata[0] % 16; storage[slot] += 1; LOG1(topic = slot); return the new value
    return [0, "CALLDATALOAD", 16, "SWAP1", "MOD", "DUP1", "SLOAD", 1, "ADD",
            "DUP1", 0, "MSTORE", "DUP2", "SSTORE", 32, 0, "LOG1", 32, 0, "RETURN"]  # fmt: skip


def _hasher() -> list[Item]:
    # n = calldata[0] % 64; repeat n times: m[0] = keccak(m[0..64]); return m[0]
    loop = _STAMP_SIZE + 6
    return [0, "CALLDATALOAD", 64, "SWAP1", "MOD",  # n
            b"\x5b",  # loop: [n]
            "DUP1", "ISZERO", 0xFF00, "JUMPI",  # patched below
            64, 0, "KECCAK256", 0, "MSTORE", 1, "SWAP1", "SUB", loop, "JUMP",
            ]  # fmt: skip


def _memory() -> list[Item]:
    # offset = calldata[0] % 4096; m[offset] = calldata[32]; return 32 bytes at offset
    return [32, "CALLDATALOAD", 0, "CALLDATALOAD", 4096, "SWAP1", "MOD", "DUP1", "SWAP2",
            "SWAP1", "MSTORE", 32, "SWAP1", "RETURN"]  # fmt: skip


def _forwarder(index: int, count: int) -> list[Item]:
    # CALL the next contract with this calldata; return its return data
    target = int.from_bytes(contract_address((index + 1) % count), "big")
    return ["CALLDATASIZE", 0, 0, "CALLDATACOPY",
            0, 0, "CALLDATASIZE", 0, 0, target, 100_000, "CALL", "POP",
            "RETURNDATASIZE", 0, 0, "RETURNDATACOPY", "RETURNDATASIZE", 0, "RETURN"]  # fmt: skip


def contract_code(index: int, count: int) -> bytes:
    """The code of contract ``index`` out of ``count``."""
    family = FAMILIES[index % len(FAMILIES)]
    if family == "counter":
        body = _counter()
    elif family == "memory":
        body = _memory()
    elif family == "forwarder":
        body = _forwarder(index, count)
    else:
        head = assemble([*_stamp(index), *_hasher()])
        done = len(head)
        code = head.replace(push(0xFF00), b"\x61" + done.to_bytes(2, "big"), 1)
        return code + assemble(["JUMPDEST", "POP", 32, 0, "RETURN"])
    return assemble([*_stamp(index), *body])
