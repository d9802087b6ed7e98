"""The transaction executor's message building, without a debug line nobody reads.

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
constructor runs, and raises, otherwise).  An executor whose
``build_evm_message`` is not Cancun's (an earlier fork's, a tool's) is
left as it is.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.constants import CREATE_CONTRACT_ADDRESS, UINT_256_MAX
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import CancunTransactionExecutor
from eth.vm.message import Message
from eth_utils.crypto import keccak
from eth_utils.hexadecimal import encode_hex

__all__ = ["quiet_message_building"]


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
    if not (
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
        # Something Message's checks may refuse: its constructor, and its error.
        return Message(
            gas=gas,
            to=to,
            sender=sender,
            value=value,
            data=data,
            code=code,
            create_address=create_address,
            refund=refund,
            is_delegation=is_delegation,
        )
    # Every check of Message's constructor passes: the fields where it puts them.
    message: Any = object.__new__(Message)
    message.gas = gas
    message.to = to
    message.sender = sender
    message.value = value
    message.data = data
    message.depth = 0
    message.code = code
    message._storage_address = create_address
    message._code_address = None
    message.should_transfer_value = True
    message.is_static = False
    message._is_delegation = is_delegation
    message.refund = refund
    return message


def quiet_message_building(executor_class: type[Any]) -> type[Any]:
    """``executor_class`` with :func:`_build_evm_message` where its own is Cancun's
    (else ``executor_class`` itself)."""
    if executor_class.build_evm_message is not CancunTransactionExecutor.build_evm_message:
        return executor_class
    return type(
        executor_class.__name__,
        (executor_class,),
        {"build_evm_message": _build_evm_message, "__module__": __name__},
    )
