"""The transaction executor's message and computation building, in fewer layers.

Before it builds a transaction's message, Cancun's executor formats a
``DEBUG2`` log line: the transaction's ``repr``, the hash of its data and the
callee's whole code in hex (20 µs for a 24 KB contract), whether or not
anyone logs at that level.  :func:`quiet_message_building` gives an executor
class whose ``build_evm_message`` does exactly what Cancun's does -- the fee
and blob fee charged, the nonce bumped, the message refund (EIP-7702 from
Prague on), the callee's code through the executor's own
``get_code_at_address`` (delegations from Prague on), the same ``Message`` --
and formats that line, in py-evm's words, only when ``DEBUG2`` is enabled
for the state's logger.  The message is built without the constructor's
checks when the fields plainly pass them (each a call or two; the
constructor runs, and raises, otherwise).  Its ``build_computation`` is
Berlin's and Frontier's in one function for a call, keeping the
transaction context it makes for the finalisation.  An executor whose
methods are not those (an earlier fork's, a tool's) keeps its own.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.constants import CREATE_CONTRACT_ADDRESS, UINT_256_MAX
from eth.vm.forks.berlin.state import BerlinTransactionExecutor
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import CancunTransactionExecutor
from eth.vm.message import Message
from eth_utils.crypto import keccak
from eth_utils.hexadecimal import encode_hex

from evmkiln.context.lean_computation import unchecked_message

__all__ = ["quiet_message_building", "transaction_context_of"]


def _build_evm_message(self: Any, transaction: Any) -> Any:
    """Cancun's ``build_evm_message``, formatting its debug line only when it is logged."""
    state = self.vm_state
    sender = transaction.sender
    fee = transaction.gas * state.get_gas_price(transaction)
    if transaction.type_id == BLOB_TX_TYPE:
        fee += self.calc_data_fee(transaction)
    state.delta_balance(sender, -fee)
    state.increment_nonce(sender)
    refund = self.calc_message_refund(transaction)
    gas = transaction.gas - transaction.intrinsic_gas
    to = transaction.to
    create_address: Any = None
    if to == CREATE_CONTRACT_ADDRESS:
        create_address = generate_contract_address(sender, state.get_nonce(sender) - 1)
        data, code, is_delegation = b"", transaction.data, False
    else:
        data = transaction.data
        code, delegation = self.get_code_at_address(to)
        is_delegation = delegation is not None
    logger = state.logger
    if logger.show_debug2:
        logger.debug2(
            f"TRANSACTION: {transaction!r}; "
            f"sender: {encode_hex(sender)} | "
            f"to: {encode_hex(to)} | "
            f"data-hash: {encode_hex(keccak(transaction.data))} | "
            f"gas: {transaction.gas} | "
            f"code: {encode_hex(code)} | "
        )
    value = transaction.value
    fields: dict[str, Any] = {
        "gas": gas,
        "to": to,
        "sender": sender,
        "value": value,
        "data": data,
        "code": code,
        "create_address": create_address,
        "refund": refund,
        "is_delegation": is_delegation,
    }
    if (
        type(gas) is int
        and 0 <= gas <= UINT_256_MAX
        and type(to) is bytes
        and (len(to) == 20 or to == CREATE_CONTRACT_ADDRESS)
        and type(sender) is bytes
        and len(sender) == 20
        and type(value) is int
        and 0 <= value <= UINT_256_MAX
        and type(data) is bytes
        and type(code) is bytes
        and (
            create_address is None or (type(create_address) is bytes and len(create_address) == 20)
        )
        and type(is_delegation) is bool
    ):
        # Every check of Message's constructor passes: the fields where it puts them.
        return unchecked_message(depth=0, **fields)
    # Something Message's checks may refuse: its constructor, and its error.
    return Message(**fields)


_CONTEXT = "_kiln_transaction_context"
"""Executor attribute: ``(transaction, its transaction context)``, the context
:func:`_build_computation` made (an executor runs one transaction)."""


def _build_computation(self: Any, message: Any, transaction: Any) -> Any:
    """Berlin's ``build_computation`` (then Frontier's) for a call, in one function.

    The same warming of the sender, the recipient and the access list, the
    same transaction context, the computation class's ``apply_message``.
    The context is kept for the finalisation
    (:func:`transaction_context_of`), which asks for it again.  A create
    takes py-evm's methods (the collision rule lives there).
    """
    if message.to == CREATE_CONTRACT_ADDRESS:
        return BerlinTransactionExecutor.build_computation(self, message, transaction)
    state = self.vm_state
    # Called as methods, not taken as a bound method: Python caches a method call's
    # lookup in the instruction, while reading a method as an attribute walks the
    # state class's twenty-odd bases whenever the type cache has lost it.
    state.mark_address_warm(transaction.sender)
    state.mark_address_warm(message.storage_address)
    for address, slots in transaction.access_list:
        state.mark_address_warm(address)
        for slot in slots:
            state.mark_storage_warm(address, slot)
    context = state.get_transaction_context(transaction)
    setattr(self, _CONTEXT, (transaction, context))
    return state.computation_class.apply_message(state, message, context)


def transaction_context_of(executor: Any, transaction: Any) -> Any:
    """``executor.vm_state.get_transaction_context(transaction)``, the one its
    ``build_computation`` made when that was :func:`_build_computation`'s."""
    made = getattr(executor, _CONTEXT, None)
    if made is not None and made[0] is transaction:
        return made[1]
    return executor.vm_state.get_transaction_context(transaction)


def quiet_message_building(executor_class: type[Any]) -> type[Any]:
    """``executor_class`` with :func:`_build_evm_message` where its own is Cancun's,
    and :func:`_build_computation` where its own is Berlin's (else ``executor_class``
    itself)."""
    namespace: dict[str, Any] = {"__module__": __name__}
    if executor_class.build_evm_message is CancunTransactionExecutor.build_evm_message:
        namespace["build_evm_message"] = _build_evm_message
    if executor_class.build_computation is BerlinTransactionExecutor.build_computation:
        namespace["build_computation"] = _build_computation
    if len(namespace) == 1:
        return executor_class
    return type(executor_class.__name__, (executor_class,), namespace)
