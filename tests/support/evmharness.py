"""Run one transaction on a fresh chain with a given VM class and report what it did.

The differential tests run the same transaction on stock py-evm and on an
evmkiln VM class and require identical outcomes: status, gas used, output,
logs and the post-state root (which covers storage, balances, nonces, code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth_keys import keys

from evmkiln.deep_stack import on_deep_stack

SENDER_KEY = keys.PrivateKey(b"\x01" * 32)
SENDER = SENDER_KEY.public_key.to_canonical_address()
CONTRACT_A = bytes.fromhex("aa" * 20)
CONTRACT_B = bytes.fromhex("bb" * 20)

_GENESIS = {
    "difficulty": 0,
    "gas_limit": 30_000_000,
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


@dataclass(frozen=True)
class Outcome:
    success: bool
    error: str
    output: bytes
    gas_used: int
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    state_root: bytes
    detail: str = field(default="", compare=False)


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
    state: dict[bytes, dict[str, Any]] = {
        SENDER: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}},
    }
    for address, code in codes.items():
        state[address] = {
            "balance": balances.get(address, 10**18),
            "nonce": 1,
            "code": code,
            "storage": storage.get(address, {}),
        }
    chain_class = MiningChain.configure(
        __name__="DiffChain", vm_configuration=((0, vm_class),), chain_id=1
    )
    genesis = dict(_GENESIS)
    if block_gas_limit is not None:
        genesis["gas_limit"] = block_gas_limit
    chain = chain_class.from_genesis(AtomicDB(), genesis, state)
    vm = chain.get_vm()
    tx = vm.create_unsigned_transaction(
        nonce=0, gas_price=10**9, gas=gas, to=to, value=value, data=data
    ).as_signed_transaction(SENDER_KEY)
    receipt, computation = vm.apply_transaction(vm.get_header(), tx)
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
    )


_T = TypeVar("_T")


def on_large_stack(fn: Callable[[], _T]) -> _T:
    """Run ``fn`` where 1024 nested frames fit (the runners' own helper, re-exported)."""
    return on_deep_stack(fn)
