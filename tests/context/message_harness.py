"""Apply one message (or one signed transaction) with a given VM class and observe everything.

The dispatching VM must be indistinguishable from stock py-evm: the same
message on the same pre-state must leave the same success flag, error class,
gas, refund, output, logs, deletions and post-state root.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS
from eth.db.atomic import AtomicDB
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth_keys import keys


def addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


SENDER_KEY = keys.PrivateKey(b"\x07" * 32)
SENDER = SENDER_KEY.public_key.to_canonical_address()
COINBASE = addr(0xC014BA5E)
A = addr(0xAAAA)
B = addr(0xBBBB)
C = addr(0xCCCC)
CHAIN_ID = 1

# A: SSTORE(0, 2**(CALLVALUE+5)), CALL B, return B's output.  B: return 40 bytes.
CALLEE = bytes.fromhex("7f" + bytes(range(0xA0, 0xC0)).hex() + "5f52 6028 5ff3".replace(" ", ""))
CALLER = bytes.fromhex(
    (
        "34600501 6002 0a 5f55"  # SSTORE(0, 2 ** (CALLVALUE + 5))
        "5f5f5f5f 5f 73" + B.hex() + " 5a f1 50"  # CALL(gas, B, 0, 0, 0, 0, 0); POP
        "3d5f5f3e 3d5ff3"  # RETURNDATACOPY; RETURN(0, RETURNDATASIZE)
    ).replace(" ", "")
)


@dataclass(frozen=True)
class Observed:
    success: bool
    error: str
    gas_remaining: int
    refund: int
    output: bytes
    logs: tuple[Any, ...]
    deleted: tuple[bytes, ...]
    state_root: bytes


def execution_context() -> ExecutionContext:
    return ExecutionContext(
        coinbase=COINBASE,
        timestamp=1_700_000_000,
        block_number=50,
        difficulty=0,
        mix_hash=b"\x42" * 32,
        gas_limit=30_000_000,
        prev_hashes=[bytes([i]) * 32 for i in range(1, 60)],
        chain_id=CHAIN_ID,
        base_fee_per_gas=7,
        excess_blob_gas=0,
    )


def make_state(
    vm_class: Any, accounts: dict[bytes, dict[str, Any]], *, persisted: bool = False
) -> Any:
    """A fresh state of ``vm_class`` holding ``accounts`` (balance/nonce/code/storage).

    ``persisted`` also computes the state root, as a block's pre-state has it:
    py-evm's account database only then records the accounts' storage roots.
    """
    state = vm_class.get_state_class()(AtomicDB(), execution_context(), BLANK_ROOT_HASH)
    for address, fields in accounts.items():
        state.set_balance(address, fields.get("balance", 0))
        state.set_nonce(address, fields.get("nonce", 0))
        state.set_code(address, fields.get("code", b""))
        for slot, value in fields.get("storage", {}).items():
            state.set_storage(address, slot, value)
    state.lock_changes()
    if persisted:
        state.make_state_root()
    return state


def apply_message(
    vm_class: Any,
    accounts: dict[bytes, dict[str, Any]],
    *,
    to: bytes = A,
    data: bytes = b"",
    value: int = 0,
    gas: int = 1_000_000,
    initcode: bytes | None = None,
    persisted: bool = False,
) -> Observed:
    """Run one top-level message (a call to ``to``, or a create with ``initcode``)."""
    state = make_state(vm_class, accounts, persisted=persisted)
    computation_class = state.computation_class
    tx_context = CancunTransactionContext(gas_price=10, origin=SENDER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if initcode is None:
            message = Message(
                gas=gas,
                to=to,
                sender=SENDER,
                value=value,
                data=data,
                code=state.get_code(to),
            )
            computation = computation_class.apply_message(state, message, tx_context)
        else:
            message = Message(
                gas=gas,
                to=CREATE_CONTRACT_ADDRESS,
                sender=SENDER,
                value=value,
                data=b"",
                code=initcode,
                create_address=addr(0xC4EA7E),
            )
            computation = computation_class.apply_create_message(state, message, tx_context)
    return Observed(
        success=computation.is_success,
        error="" if computation.is_success else type(computation.error).__name__,
        gas_remaining=computation.get_gas_remaining(),
        refund=computation.get_gas_refund(),
        output=computation.output,
        logs=computation.get_log_entries(),
        deleted=tuple(sorted(computation.get_accounts_for_deletion())),
        state_root=state.make_state_root(),
    )


def apply_transaction(
    vm_class: Any,
    accounts: dict[bytes, dict[str, Any]],
    *,
    to: bytes,
    data: bytes = b"",
    value: int = 0,
    gas: int = 500_000,
) -> tuple[int, tuple[Any, ...], bytes]:
    """Sign and apply one EIP-1559 transaction; return (gas used, logs, state root)."""
    accounts = {SENDER: {"balance": 10**20}} | accounts
    state = make_state(vm_class, accounts)
    unsigned = vm_class.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
        chain_id=CHAIN_ID,
        nonce=0,
        max_priority_fee_per_gas=1,
        max_fee_per_gas=100,
        gas=gas,
        to=to,
        value=value,
        data=data,
        access_list=(),
    )
    transaction = unsigned.as_signed_transaction(SENDER_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        receipt_and_computation = state.apply_transaction(transaction)
    computation = receipt_and_computation
    gas_used = transaction.gas - computation.get_gas_remaining()
    return gas_used, computation.get_log_entries(), state.make_state_root()


def forget_debug2(logger: Any) -> None:
    """Make an eth-utils logger ask again whether it logs DEBUG2: it remembers the
    answer, and replaces its ``debug2`` with a no-op once told no."""
    logger.__dict__.pop("show_debug2", None)
    logger.__dict__.pop("debug2", None)
