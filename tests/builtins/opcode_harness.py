"""Run one opcode through py-evm and the matching builtin on identical fresh states.

A :class:`Setup` describes the pre-state (accounts, storage written before and
during the transaction, warm addresses and slots, the frame's memory, return
data and context).  :func:`run_pyevm` builds it and executes the opcode with
py-evm's own Cancun opcode function; :func:`run_builtin` builds it again and
calls the builtin over a :class:`PyEvmHost`, starting with the opcode's static
gas already paid (as the IR would have).  Both return an :class:`Outcome`
that captures everything a difference could show up in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.exceptions import Halt, OutOfGas, VMError
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message

from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.builtins.impl import IMPLEMENTATIONS
from evmkiln.builtins.table import BUILTINS
from evmkiln.context.halt_map import PYEVM_ERROR_FOR_HALT
from evmkiln.context.pyevm_host import PyEvmHost


def addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


CONTRACT = addr(0xC0FFEE)
CALLER = addr(0xCA11E5)
ORIGIN = addr(0x0419)
COINBASE = addr(0xC014BA5E)
OTHER = addr(0xBEEF)
EMPTY = addr(0xE4E4)  # never given any state
PRECOMPILE = addr(4)  # identity

GAS = 1_000_000
BLOCK_NUMBER = 1000
PREV_HASHES = [(0xB10C0000 + i).to_bytes(32, "big") for i in range(256)]


@dataclass
class Account:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)


@dataclass
class Setup:
    accounts: dict[bytes, Account] = field(default_factory=dict)
    dirty_storage: dict[tuple[bytes, int], int] = field(default_factory=dict)
    """Storage written earlier in the transaction (current differs from original)."""
    warm_addresses: list[bytes] = field(default_factory=list)
    warm_slots: list[tuple[bytes, int]] = field(default_factory=list)
    transient: dict[tuple[bytes, int], int] = field(default_factory=dict)
    contracts_created: list[bytes] = field(default_factory=list)
    gas: int = GAS
    value: int = 0
    calldata: bytes = b""
    code: bytes = b"\x00"
    memory: bytes = b""
    returndata: bytes = b""
    is_static: bool = False
    depth: int = 0
    blob_hashes: list[bytes] = field(default_factory=list)
    gas_price: int = 10


@dataclass
class Outcome:
    error: type[Any] | None
    gas_left: int | None = None
    result: int | None = None
    memory: bytes = b""
    returndata: bytes = b""
    refund: int = 0
    logs: tuple[Any, ...] = ()
    state_root: bytes = b""
    warm: tuple[bool, ...] = ()
    transient: tuple[int, ...] = ()
    deleted: tuple[bytes, ...] = ()
    beneficiaries: tuple[bytes, ...] = ()
    children: tuple[tuple[bool, bytes], ...] = ()


def build(setup: Setup) -> tuple[Any, Any]:
    context = ExecutionContext(
        coinbase=COINBASE,
        timestamp=1_700_000_000,
        block_number=BLOCK_NUMBER,
        difficulty=0,
        mix_hash=(0x4A4D).to_bytes(32, "big"),
        gas_limit=30_000_000,
        prev_hashes=PREV_HASHES,
        chain_id=1,
        base_fee_per_gas=7,
        excess_blob_gas=10_000_000,
    )
    state = CancunState(AtomicDB(), context, BLANK_ROOT_HASH)
    accounts = {CONTRACT: Account(code=setup.code)} | setup.accounts
    if CONTRACT in setup.accounts and not setup.accounts[CONTRACT].code:
        accounts[CONTRACT].code = setup.code
    for address, account in accounts.items():
        state.set_balance(address, account.balance)
        state.set_nonce(address, account.nonce)
        state.set_code(address, account.code)
        for slot, value in account.storage.items():
            state.set_storage(address, slot, value)
    # What was written so far becomes the "original" value of EIP-2200;
    # this also empties the access lists, as at the start of a transaction.
    state.lock_changes()
    for (address, slot), value in setup.dirty_storage.items():
        state.set_storage(address, slot, value)
    for address in setup.warm_addresses:
        state.mark_address_warm(address)
    for address, slot in setup.warm_slots:
        state.mark_storage_warm(address, slot)
    for (address, slot), value in setup.transient.items():
        state.set_transient_storage(address, slot, value.to_bytes(32, "big"))
    message = Message(
        gas=setup.gas,
        to=CONTRACT,
        sender=CALLER,
        value=setup.value,
        data=setup.calldata,
        code=state.get_code(CONTRACT),
        depth=setup.depth,
        is_static=setup.is_static,
    )
    tx_context = CancunTransactionContext(
        gas_price=setup.gas_price,
        origin=ORIGIN,
        blob_versioned_hashes=setup.blob_hashes,
    )
    computation = CancunComputation(state, message, tx_context)
    computation.contracts_created = list(setup.contracts_created)
    memory = initial_memory(setup)
    if memory:
        computation._memory.extend(0, len(memory))
        computation._memory.write(0, len(memory), memory)
    computation.return_data = setup.returndata
    return state, computation


def initial_memory(setup: Setup) -> bytes:
    """The frame's memory before the opcode, padded to whole words as the EVM keeps it."""
    size = (len(setup.memory) + 31) // 32 * 32
    return setup.memory.ljust(size, b"\x00")


def static_gas(opcode: int) -> int:
    fn = CancunComputation.opcodes[opcode]
    gas = getattr(fn, "gas_cost", None)
    if gas is None:  # SELFDESTRUCT is wrapped by a deprecation shim
        gas = fn.__wrapped__.gas_cost
    return int(gas)


WATCHED_ADDRESSES = (CONTRACT, CALLER, ORIGIN, COINBASE, OTHER, EMPTY, PRECOMPILE)
WATCHED_SLOTS = tuple(range(4))


def _observe(
    state: Any,
    computation: Any,
    error: type[Any] | None,
    gas_left: int,
    result: int | None,
    memory: bytes,
    returndata: bytes,
    refund: int,
    extra_addresses: tuple[bytes, ...],
) -> Outcome:
    if error is not None:
        return Outcome(error=error)
    addresses = WATCHED_ADDRESSES + extra_addresses
    warm = tuple(state.is_address_warm(a) for a in addresses) + tuple(
        state.is_storage_warm(a, s) for a in addresses for s in WATCHED_SLOTS
    )
    transient = tuple(
        int.from_bytes(state.get_transient_storage(a, s), "big")
        for a in addresses
        for s in WATCHED_SLOTS
    )
    return Outcome(
        error=None,
        gas_left=gas_left,
        result=result,
        memory=memory,
        returndata=bytes(returndata),
        refund=refund + sum(c.get_gas_refund() for c in computation.children),
        logs=computation.get_log_entries(),
        state_root=state.make_state_root(),
        warm=warm,
        transient=transient,
        deleted=tuple(computation.accounts_to_delete),
        beneficiaries=tuple(computation.beneficiaries),
        children=tuple((c.is_success, c.output) for c in computation.children),
    )


def run_pyevm(
    setup: Setup, opcode: int, args: tuple[int, ...], extra: tuple[bytes, ...] = ()
) -> Outcome:
    """Execute ``opcode`` with ``args`` (stack order, top first) in py-evm."""
    state, computation = build(setup)
    for word in reversed(args):
        computation.stack_push_int(word)
    depth_before = len(computation._stack)
    error: type[Any] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            computation.opcodes[opcode](computation=computation)
        except Halt:
            pass
        except VMError as exc:
            error = type(exc)
    result = None
    if error is None and len(computation._stack) > depth_before - len(args):
        result = computation.stack_pop1_int()
    return _observe(
        state,
        computation,
        error,
        computation.get_gas_remaining(),
        result,
        bytes(computation._memory._bytes),
        computation.return_data,
        computation.get_gas_meter().gas_refunded,
        extra,
    )


def run_builtin(
    setup: Setup, name: str, args: tuple[int, ...], extra: tuple[bytes, ...] = ()
) -> Outcome:
    """Call builtin ``name`` with ``args`` after paying its opcode's static gas."""
    state, computation = build(setup)
    sig = BUILTINS[name]
    assert sig.opcode is not None
    static = static_gas(sig.opcode)
    if setup.gas < static:
        return Outcome(error=OutOfGas)
    message = computation.msg
    frame = Frame(
        host=PyEvmHost(computation),
        gas=setup.gas - static,
        code=message.code,
        calldata=message.data_as_bytes,
        address=message.storage_address,
        caller=message.sender,
        value=message.value,
        is_static=message.is_static,
        depth=message.depth,
        memory=bytearray(initial_memory(setup)),
        returndata=setup.returndata,
    )
    error: type[Any] | None = None
    result = None
    try:
        result = IMPLEMENTATIONS[name](frame, *args)
    except ExceptionalHalt as halt:
        error = PYEVM_ERROR_FOR_HALT[halt.kind]
    return _observe(
        state,
        computation,
        error,
        frame.gas,
        result,
        bytes(frame.memory),
        frame.returndata,
        frame.refund,
        extra,
    )


def compare(
    setup: Setup, name: str, args: tuple[int, ...], extra: tuple[bytes, ...] = ()
) -> Outcome:
    """Run both sides, assert they agree, and return the (shared) outcome."""
    sig = BUILTINS[name]
    assert sig.opcode is not None
    expected = run_pyevm(setup, sig.opcode, args, extra)
    actual = run_builtin(setup, name, args, extra)
    assert actual == expected
    return expected
