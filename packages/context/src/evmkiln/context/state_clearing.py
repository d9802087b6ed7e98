"""EIP-161 state clearing in time linear in the number of frames.

After every transaction, py-evm's Spurious Dragon executor deletes the
touched accounts that are empty.  It finds them with
``collect_touched_accounts``, which at *every* frame asks for that frame's
self-destruct beneficiaries, a walk of the frame's whole subtree: a
transaction of ``n`` nested frames costs ``n^2`` steps, and each step is a
generator frame and a set.  A chain of 1,024 nested calls (the state tests'
recursion cases, or any contract that recurses) walks half a million frames
to find a handful of accounts.

:func:`touched_accounts` returns the same set with one walk: each frame's
beneficiaries are computed once, bottom-up.  :func:`linear_state_clearing`
gives an executor class whose ``finalize_computation`` uses it and is
otherwise py-evm's: Frontier's finalisation (refunds, the coinbase's fee,
self-destructs; its debug lines formatted only when ``DEBUG2`` is logged),
then the same existence and emptiness checks, in a stable order.  An
executor whose finalisation is not Spurious Dragon's (a tool's own, or a
later fork's override) is left as it is.
"""

from __future__ import annotations

from typing import Any

from eth import constants
from eth._utils.address import force_bytes_to_address
from eth.vm.forks.spurious_dragon.state import SpuriousDragonTransactionExecutor
from eth_utils.hexadecimal import encode_hex

from evmkiln.context.message_building import transaction_context_of

RIPEMD160 = force_bytes_to_address(b"\x03")
"""Touched even under a failed frame: the geth/parity consensus bug EIP-716 keeps."""


def _beneficiaries(root: Any) -> dict[int, frozenset[bytes]]:
    """Each frame's ``get_self_destruct_beneficiaries()`` as a set, by ``id``, in one walk.

    As py-evm's: a failed frame has none (nor do its children count for it),
    a successful one has its own and its successful children's.  Every frame
    gets an entry: the walk for touched accounts visits failed frames'
    children too.
    """
    found: dict[int, frozenset[bytes]] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        frame, children_done = stack.pop()
        if not children_done:
            stack.append((frame, True))
            stack.extend((child, False) for child in frame.children)
            continue
        if frame.is_error:
            found[id(frame)] = frozenset()
            continue
        union: set[bytes] = set(frame.beneficiaries)
        for child in frame.children:
            union |= found[id(child)]
        found[id(frame)] = frozenset(union)
    return found


def touched_accounts(computation: Any) -> set[bytes]:
    """The accounts EIP-161 may clear after ``computation``: py-evm's
    ``collect_touched_accounts(computation)``, without its quadratic walk."""
    coinbase = computation.state.coinbase
    if not computation.children:  # one frame (most transactions): nothing to walk
        failed = computation.is_error
        touched: set[bytes] = {coinbase}
        if not failed:  # a failed frame has no beneficiaries
            touched.update(computation.beneficiaries)
        to = computation.msg.to
        if to != constants.CREATE_CONTRACT_ADDRESS and (not failed or to == RIPEMD160):
            touched.add(to)
        return touched
    beneficiaries = _beneficiaries(computation)
    touched = {coinbase}
    stack: list[tuple[Any, bool]] = [(computation, False)]
    while stack:
        frame, ancestor_had_error = stack.pop()
        failed = frame.is_error or ancestor_had_error
        mine = beneficiaries[id(frame)]
        if failed:
            if RIPEMD160 in mine:
                touched.add(RIPEMD160)
        else:
            touched |= mine
        to = frame.msg.to
        if to != constants.CREATE_CONTRACT_ADDRESS and (not failed or to == RIPEMD160):
            touched.add(to)
        stack.extend((child, failed) for child in frame.children)
    return touched


def _frontier_finalization(self: Any, transaction: Any, computation: Any) -> Any:
    """Frontier's ``finalize_computation``, formatting its debug lines only when logged.

    py-evm formats each line (two hex encodings) whether or not anyone logs
    at ``DEBUG2``.  The refund, the data floor, the fee and the self-destructs
    are computed by the same methods (a fork's overrides apply), in the same
    order.
    """
    state = self.vm_state
    transaction_context = transaction_context_of(self, transaction)
    gas_remaining = computation.get_gas_remaining()
    gas_used = transaction.gas - gas_remaining
    gas_refund = self.calculate_gas_refund(computation, gas_used)
    computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
    logger = state.logger
    debug = logger.show_debug2
    gas_refund_amount = (
        gas_refund + gas_remaining - computation.data_floor_gas
    ) * transaction_context.gas_price
    if gas_refund_amount:
        if debug:
            logger.debug2(
                f"TRANSACTION REFUND: {gas_refund_amount} -> {encode_hex(computation.msg.sender)}"
            )
        state.delta_balance(computation.msg.sender, gas_refund_amount)
    gas_used = transaction.gas - gas_remaining - gas_refund + computation.data_floor_gas
    transaction_fee = gas_used * state.get_tip(transaction)
    coinbase = state.coinbase
    if debug:
        logger.debug2(f"TRANSACTION FEE: {transaction_fee} -> {encode_hex(coinbase)}")
    state.delta_balance(coinbase, transaction_fee)
    for account in computation.get_accounts_for_deletion():
        if debug:
            logger.debug2(f"DELETING ACCOUNT: {encode_hex(account)}")
        state.delete_account(account)
    return computation


def _finalize_computation(self: Any, transaction: Any, computation: Any) -> Any:
    """Spurious Dragon's finalisation, with :func:`touched_accounts`."""
    computation = _frontier_finalization(self, transaction, computation)
    state = self.vm_state
    for account in sorted(touched_accounts(computation)):
        if state.account_exists(account) and state.account_is_empty(account):
            state.delete_account(account)
    return computation


def linear_state_clearing(executor_class: type[Any]) -> type[Any]:
    """``executor_class`` with linear EIP-161 clearing, where its finalisation is
    Spurious Dragon's (else ``executor_class`` itself)."""
    if (
        executor_class.finalize_computation
        is not SpuriousDragonTransactionExecutor.finalize_computation
    ):
        return executor_class
    return type(
        executor_class.__name__,
        (executor_class,),
        {"finalize_computation": _finalize_computation, "__module__": __name__},
    )
