"""Transaction validity rules of Prague and earlier forks that py-evm 0.12 leaves out.

py-evm validates a transaction in its state's ``validate_transaction``
(py-evm's ``validate_*_transaction`` functions, one per fork that changed
the rules).  These rules are older than Prague, and execution-spec-tests
fill them for every fork; evmkiln's own Prague and Osaka states check them
(py-evm's Cancun, which the ethereum/tests suite runs as it is, does not):

* EIP-4844 and EIP-7702: a blob or set-code transaction cannot create a
  contract (it must have a ``to``); py-evm builds and runs one as a creation.
* EIP-3860: a creation transaction's initcode is at most 49152 bytes.
  py-evm checks the size only once the create message runs and then raises
  ``OutOfGas`` out of ``apply_transaction``, after charging the sender.
* EIP-1559: the priority fee is at most the max fee.
* EIP-3607: the sender is an externally owned account: its code is empty
  or, from Prague on, an EIP-7702 delegation designation.
* The up-front balance covers the gas at the max fee, the blob gas at the
  max blob fee *and the value*; py-evm's Cancun check leaves out the value
  (its Frontier check counts the value at the effective gas price only).

Each is a :class:`~eth_utils.ValidationError`, which is how py-evm (and a
state test) tells a transaction that cannot be included.
"""

from __future__ import annotations

from typing import Any

from eth._utils.state import code_is_delegation_designation
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.forks.prague.constants import SET_CODE_TRANSACTION_TYPE
from eth.vm.forks.shanghai.constants import MAX_INITCODE_SIZE
from eth_utils.exceptions import ValidationError


def validate_no_creation(transaction: Any) -> None:
    """EIP-4844 and EIP-7702: blob and set-code transactions need a recipient."""
    if transaction.type_id in (BLOB_TX_TYPE, SET_CODE_TRANSACTION_TYPE) and (
        transaction.to == CREATE_CONTRACT_ADDRESS
    ):
        raise ValidationError(
            f"a transaction of type {transaction.type_id} cannot create a contract"
        )


def validate_initcode_size(transaction: Any) -> None:
    """EIP-3860 at the transaction level: oversized initcode makes the transaction invalid."""
    if transaction.to == CREATE_CONTRACT_ADDRESS and len(transaction.data) > MAX_INITCODE_SIZE:
        raise ValidationError(
            f"initcode of {len(transaction.data)} bytes exceeds the limit of {MAX_INITCODE_SIZE}"
        )


def validate_fee_caps(transaction: Any) -> None:
    """EIP-1559: a priority fee above the max fee is invalid (legacy: both are the price)."""
    if transaction.max_priority_fee_per_gas > transaction.max_fee_per_gas:
        raise ValidationError(
            f"max priority fee per gas ({transaction.max_priority_fee_per_gas}) exceeds "
            f"max fee per gas ({transaction.max_fee_per_gas})"
        )


def validate_sender_is_eoa(state: Any, transaction: Any) -> None:
    """EIP-3607: a sender with code other than a delegation designation cannot send."""
    code = state.get_code(transaction.sender)
    if code and not code_is_delegation_designation(code):
        raise ValidationError(
            f"sender {transaction.sender.hex()} has code: not an externally owned account"
        )


def max_upfront_cost(transaction: Any) -> int:
    """Everything the sender may be charged: gas at the max fee, blob gas, and the value."""
    cost = int(transaction.gas * transaction.max_fee_per_gas + transaction.value)
    if transaction.type_id == BLOB_TX_TYPE:
        cost += int(get_total_blob_gas(transaction) * transaction.max_fee_per_blob_gas)
    return cost


def validate_upfront_balance(state: Any, transaction: Any) -> None:
    """The sender's balance covers :func:`max_upfront_cost` (the value included)."""
    balance = state.get_balance(transaction.sender)
    cost = max_upfront_cost(transaction)
    if balance < cost:
        raise ValidationError(
            f"sender balance {balance} cannot cover the transaction's up-front cost {cost}"
        )


def validate_rules_pyevm_leaves_out(state: Any, transaction: Any) -> None:
    """Every rule above; py-evm's own run after these in evmkiln's states."""
    validate_no_creation(transaction)
    validate_initcode_size(transaction)
    validate_fee_caps(transaction)
    validate_sender_is_eoa(state, transaction)
    validate_upfront_balance(state, transaction)
