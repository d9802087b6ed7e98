"""Building a py-evm VM positioned on a fixture's block, with the fixture's pre-state.

A state test is one transaction in one block, with no parent chain: the pre
state is written into a fresh in-memory database, a header is made from
``env``, and a VM of the requested class is instantiated on that header.  No
block-level processing runs (no beacon-root system call, no withdrawals, no
block reward): state tests check the transaction alone.

``BLOCKHASH`` follows the reference state-test runner, which has no real
ancestors and answers ``keccak256(decimal string of n)`` for the 256 previous
block numbers.

The chain id is the fixture's (``config.chainid`` of EEST files, 1 for
ethereum/tests).  A fixture's blob schedule that differs from the fork's own
gives a VM class whose state prices blob gas with it
(:func:`with_blob_schedule`): a subclass, the way a chain configures py-evm.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evmkiln.fixtures.world import Env, PreState
from evmkiln.forks.blobs import CANCUN_BLOBS, BlobSchedule
from evmkiln.statetest.transactions import CHAIN_ID

_MAX_ANCESTORS = 256


def reference_block_hash(number: int) -> bytes:
    """The ``BLOCKHASH`` of block ``number`` in state tests."""
    from eth_hash.auto import keccak

    digest: bytes = keccak(str(number).encode())
    return digest


def _state_test_previous_hashes(self: Any) -> Iterator[bytes]:
    number = self.get_header().block_number
    for ancestor in range(number - 1, max(number - 1 - _MAX_ANCESTORS, -1), -1):
        yield reference_block_hash(ancestor)


_STATE_TEST_CLASSES: dict[type[Any], type[Any]] = {}


def state_test_vm_class(vm_class: type[Any]) -> type[Any]:
    """``vm_class`` with the state-test ``BLOCKHASH`` convention, otherwise unchanged."""
    made = _STATE_TEST_CLASSES.get(vm_class)
    if made is None:
        made = type(
            f"{vm_class.__name__}ForStateTests",
            (vm_class,),
            {"previous_hashes": property(_state_test_previous_hashes)},
        )
        _STATE_TEST_CLASSES[vm_class] = made
    return made


def blob_schedule_of(vm_class: type[Any]) -> BlobSchedule:
    """The blob schedule ``vm_class`` runs with: its state's, else its fork's, else Cancun's."""
    from evmkiln.forks import fork_spec

    state_schedule = getattr(vm_class.get_state_class(), "blob_schedule", None)
    if isinstance(state_schedule, BlobSchedule):
        return state_schedule
    try:
        return fork_spec(str(getattr(vm_class, "fork", ""))).blob_schedule
    except ValueError:
        return CANCUN_BLOBS


_SCHEDULED_CLASSES: dict[tuple[type[Any], BlobSchedule], type[Any]] = {}


def with_blob_schedule(vm_class: type[Any], schedule: BlobSchedule) -> type[Any]:
    """``vm_class``, or a subclass whose state prices blob gas with ``schedule``."""
    if blob_schedule_of(vm_class) == schedule:
        return vm_class
    made = _SCHEDULED_CLASSES.get((vm_class, schedule))
    if made is None:
        state_class = vm_class.get_state_class()
        scheduled_state = type(
            f"{state_class.__name__}WithBlobSchedule",
            (state_class,),
            {
                "blob_schedule": schedule,
                "blob_base_fee": property(
                    lambda state: schedule.blob_base_fee(state.execution_context.excess_blob_gas)
                ),
            },
        )
        made = type(
            f"{vm_class.__name__}WithBlobSchedule", (vm_class,), {"_state_class": scheduled_state}
        )
        _SCHEDULED_CLASSES[(vm_class, schedule)] = made
    return made


def header_class_of(vm_class: type[Any]) -> type[Any]:
    """The block-header class of ``vm_class``'s fork (the ``header`` field of its block)."""
    meta = vm_class.get_block_class()._meta
    header_class: type[Any] = meta.sedes[meta.field_names.index("header")]
    return header_class


def build_header(vm_class: type[Any], env: Env, state_root: bytes) -> Any:
    """The header of the block the fixture's transaction runs in.

    Post-merge, ``DIFFICULTY`` reads ``PREVRANDAO``, i.e. the header's mix hash,
    taken from ``currentRandom``; the difficulty itself is zero.
    """
    header_class = header_class_of(vm_class)
    if env.random is not None:
        mix_hash = env.random
        difficulty = 0
    else:
        mix_hash = env.difficulty.to_bytes(32, "big")
        difficulty = env.difficulty
    fields: dict[str, Any] = {
        "difficulty": difficulty,
        "block_number": env.number,
        "gas_limit": env.gas_limit,
        "timestamp": env.timestamp,
        "coinbase": env.coinbase,
        "state_root": state_root,
        "mix_hash": mix_hash,
        "base_fee_per_gas": env.base_fee,
        "excess_blob_gas": env.excess_blob_gas,
    }
    if env.parent_beacon_block_root is not None:
        fields["parent_beacon_block_root"] = env.parent_beacon_block_root
    return header_class(**fields)


def write_pre_state(vm_class: type[Any], db: Any, pre: PreState, chain_id: int = CHAIN_ID) -> bytes:
    """Write the accounts into ``db`` and return the resulting state root."""
    from eth.constants import BLANK_ROOT_HASH
    from eth.vm.chain_context import ChainContext

    state = vm_class.get_state_class()(
        db,
        vm_class.create_execution_context(
            header_class_of(vm_class)(difficulty=0, block_number=0, gas_limit=0, timestamp=0),
            (),
            ChainContext(chain_id),
        ),
        BLANK_ROOT_HASH,
    )
    for address, account in pre.items():
        for slot, value in account.storage.items():
            state.set_storage(address, slot, value)
        state.set_nonce(address, account.nonce)
        state.set_code(address, account.code)
        state.set_balance(address, account.balance)
    state.persist()
    root: bytes = state.state_root
    return root


def build_vm(
    vm_class: type[Any], env: Env, pre: PreState, chain_id: int = CHAIN_ID
) -> tuple[Any, Any, bytes]:
    """A fresh VM on the fixture's block: ``(vm, header, pre_state_root)``."""
    from eth.consensus.context import ConsensusContext
    from eth.db.atomic import AtomicDB
    from eth.db.chain import ChainDB
    from eth.vm.chain_context import ChainContext

    cls = state_test_vm_class(vm_class)
    db = AtomicDB()
    pre_root = write_pre_state(cls, db, pre, chain_id)
    header = build_header(cls, env, pre_root)
    vm = cls(
        header=header,
        chaindb=ChainDB(db),
        chain_context=ChainContext(chain_id),
        consensus_context=ConsensusContext(db),
    )
    return vm, header, pre_root
