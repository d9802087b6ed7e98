"""Run one transaction on a fresh chain with a given VM class and report what it did.

Differential checks (the fuzzer and the differential tests) run the same
transaction on stock py-evm and on an evmkiln VM class and require identical
outcomes: status, halt category, gas used, output, logs and the post-state
root (which covers storage, balances, nonces and code).  Every run starts from
its own genesis, so nothing leaks from one program into the next, and its
block has a fixed timestamp, so a run today and a run tomorrow agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth_keys.datatypes import PrivateKey
from eth_typing import Address

SENDER_KEY = PrivateKey(b"\x01" * 32)
SENDER: bytes = SENDER_KEY.public_key.to_canonical_address()
CONTRACT_A = bytes.fromhex("aa" * 20)
CONTRACT_B = bytes.fromhex("bb" * 20)
CONTRACT_C = bytes.fromhex("cc" * 20)
SENDER_BALANCE = 10**24
CONTRACT_BALANCE = 10**18
GAS_PRICE = 10**9
BLOCK_GAS_LIMIT = 30_000_000
BLOCK_INTERVAL = 12
"""Seconds between the genesis and the block the transaction is in (fixed, not the clock's)."""

_GENESIS: dict[str, Any] = {
    "difficulty": 0,
    "gas_limit": BLOCK_GAS_LIMIT,
    "timestamp": 1_700_000_000,
    "coinbase": bytes.fromhex("c0" * 20),
    "extra_data": b"",
    "nonce": b"\x00" * 8,
    "mix_hash": b"\x11" * 32,
}


def halt_category(error: object) -> str:
    """ "" for success, "revert" for REVERT, "halt" for any exceptional halt.

    Compiled code may name a different reason than the interpreter when one
    block holds several (stack bounds are checked at block entry, static gas
    per segment); every exceptional halt has the same observable effect, so
    comparisons use the category.  The interpreter's class name is kept in
    ``Outcome.detail`` for diagnostics.
    """
    if error is None:
        return ""
    return "revert" if type(error).__name__ == "Revert" else "halt"


Log = tuple[bytes, tuple[int, ...], bytes]
"""One log entry: emitting address, topics, data."""


@dataclass(frozen=True)
class Outcome:
    """What a transaction did, as far as any client could observe it."""

    success: bool
    error: str
    output: bytes
    gas_used: int
    logs: tuple[Log, ...]
    state_root: bytes
    detail: str = field(default="", compare=False)
    """py-evm's exception class name for a failed frame; not compared (see halt_category)."""
    message: str = field(default="", compare=False)
    """The failed frame's exception text; not compared either."""

    def differences(self, other: Outcome) -> list[str]:
        """Names of the compared fields in which ``other`` differs from this outcome."""
        names = ["success", "error", "output", "gas_used", "logs", "state_root"]
        return [name for name in names if getattr(self, name) != getattr(other, name)]


def execute(
    vm_class: Any,
    codes: dict[bytes, bytes],
    *,
    to: bytes = CONTRACT_A,
    data: bytes = b"",
    value: int = 0,
    gas: int = 1_000_000,
    storage: dict[bytes, dict[int, int]] | None = None,
    balances: dict[bytes, int] | None = None,
    block_gas_limit: int | None = None,
) -> Outcome:
    """Apply one signed transaction from ``SENDER`` to ``to`` on a fresh genesis state.

    ``block_gas_limit`` raises the genesis block's gas limit (30M by default) for
    transactions that need more gas, e.g. to nest calls 1024 deep despite 63/64.
    """
    storage = storage or {}
    balances = balances or {}
    state: dict[Any, Any] = {
        SENDER: {"balance": SENDER_BALANCE, "nonce": 0, "code": b"", "storage": {}},
    }
    for address, code in codes.items():
        state[address] = {
            "balance": balances.get(address, CONTRACT_BALANCE),
            "nonce": 1,
            "code": code,
            "storage": storage.get(address, {}),
        }
    chain_class = MiningChain.configure(
        __name__="DiffChain", vm_configuration=((0, vm_class),), chain_id=1
    )
    genesis: dict[str, Any] = dict(_GENESIS)
    if block_gas_limit is not None:
        genesis["gas_limit"] = block_gas_limit
    chain = chain_class.from_genesis(AtomicDB(), genesis, state)
    # py-evm dates a new block by the wall clock: two runs a second apart would see
    # different TIMESTAMPs.
    header = chain.create_header_from_parent(
        chain.get_canonical_head(), timestamp=genesis["timestamp"] + BLOCK_INTERVAL
    )
    vm = chain.get_vm(header)
    tx = vm.create_unsigned_transaction(
        nonce=0, gas_price=GAS_PRICE, gas=gas, to=Address(to), value=value, data=data
    ).as_signed_transaction(SENDER_KEY)
    receipt, computation = vm.apply_transaction(header, tx)
    return Outcome(
        success=bool(computation.is_success),
        error=halt_category(computation.error if computation.is_error else None),
        output=bytes(computation.output),
        gas_used=int(receipt.gas_used),
        logs=tuple(
            (bytes(log.address), tuple(log.topics), bytes(log.data)) for log in receipt.logs
        ),
        state_root=bytes(vm.state.make_state_root()),
        detail=type(computation.error).__name__ if computation.is_error else "",
        message=str(computation.error) if computation.is_error else "",
    )


def intrinsic_gas(data: bytes) -> int:
    """Gas a message call transaction with ``data`` pays before any code runs."""
    return 21_000 + sum(16 if byte else 4 for byte in data)
