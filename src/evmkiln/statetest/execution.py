"""Running one transaction on a fixture's pre-state and collecting what it did.

Shared by the state-test runner (which compares the post-state root and logs
hash with the fixture) and by ``evmkiln run`` (which prints status, gas, output
and logs of a bench fixture).  A transaction py-evm refuses to include is not
an error here: it is an outcome, ``rejected``, with py-evm's reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from evmkiln.fixtures.transaction import TransactionSpec
from evmkiln.fixtures.world import Env, PreState
from evmkiln.forks.blobs import BlobSchedule
from evmkiln.statetest.chain import blob_schedule_of, build_vm, with_blob_schedule
from evmkiln.statetest.transactions import TransactionBuildError, build_transaction


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log emitted by the transaction."""

    address: bytes
    topics: tuple[int, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying the transaction did to the state."""

    pre_state_root: bytes
    state_root: bytes
    logs_hash: bytes
    rejected: str | None = None
    """Why py-evm refused the transaction; ``None`` when it was included."""
    success: bool = False
    """Whether the top-level frame ended without error (meaningless when rejected)."""
    error: str | None = None
    """The top-level frame's error (revert, out of gas, ...), if any."""
    gas_used: int = 0
    output: bytes = b""
    logs: tuple[LogEntry, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    """Time spent applying the transaction (pre-state setup excluded)."""


def logs_hash(logs: tuple[LogEntry, ...]) -> bytes:
    """keccak256 of the RLP list of ``[address, [topics], data]``, as fixtures record it."""
    import rlp
    from eth.rlp.logs import Log
    from eth_hash.auto import keccak

    encoded = rlp.encode([Log(entry.address, entry.topics, entry.data) for entry in logs])
    digest: bytes = keccak(encoded)
    return digest


def _is_rejection(exc: Exception) -> bool:
    from eth_utils.exceptions import ValidationError

    return isinstance(exc, ValidationError)


def block_rule_violation(transaction: Any, schedule: BlobSchedule) -> str | None:
    """A block-validity rule the transaction alone breaks, as py-evm checks at block import.

    py-evm enforces the per-block blob gas limit only when validating a whole
    block; a state test's block holds just this transaction, so a transaction
    over the limit (of the fork's, or the fixture's, blob schedule) makes the
    block, hence the transaction, invalid.
    """
    from eth.vm.forks.cancun.state import get_total_blob_gas

    blob_gas = get_total_blob_gas(transaction)
    limit = schedule.max_blob_gas_per_block
    if blob_gas > limit:
        return f"blob gas {blob_gas} exceeds the block limit {limit}"
    return None


def _rejected(pre_root: bytes, reason: str) -> Outcome:
    """A transaction that was not included: the state stays the pre-state, no logs."""
    return Outcome(
        pre_state_root=pre_root, state_root=pre_root, logs_hash=logs_hash(()), rejected=reason
    )


def apply_transaction(
    vm_class: type[Any],
    env: Env,
    pre: PreState,
    spec: TransactionSpec,
    blob_schedule: BlobSchedule | None = None,
) -> Outcome:
    """Apply ``spec`` to ``pre`` in the block ``env`` with a VM of ``vm_class``.

    ``blob_schedule`` (a fixture's) replaces the fork's own when given.
    Exceptions other than py-evm's transaction validation errors propagate: they
    are bugs of the VM (or of a backend), which the caller reports as such.
    """
    if blob_schedule is not None:
        vm_class = with_blob_schedule(vm_class, blob_schedule)
    schedule = blob_schedule_of(vm_class)
    vm, header, pre_root = build_vm(vm_class, env, pre, spec.chain_id)
    try:
        transaction = build_transaction(vm_class, spec)
    except TransactionBuildError as exc:
        return _rejected(pre_root, str(exc))
    violation = block_rule_violation(transaction, schedule)
    if violation is not None:
        return _rejected(pre_root, f"invalid block: {violation}")
    start = time.perf_counter()
    try:
        receipt, computation = vm.apply_transaction(header, transaction)
    except Exception as exc:
        if not _is_rejection(exc):
            raise
        # py-evm validates some fields only once it starts building the message
        # (e.g. intrinsic gas of typed transactions), after charging the sender;
        # like a block import, a rejected transaction leaves the pre-state as it was.
        return _rejected(pre_root, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    logs = tuple(
        LogEntry(address=address, topics=tuple(topics), data=data)
        for address, topics, data in computation.get_log_entries()
    )
    error = None if computation.is_success else f"{type(computation.error).__name__}"
    return Outcome(
        pre_state_root=pre_root,
        state_root=vm.state.make_state_root(),
        logs_hash=logs_hash(logs),
        success=bool(computation.is_success),
        error=error,
        gas_used=int(receipt.gas_used),
        output=bytes(computation.output),
        logs=logs,
        seconds=seconds,
    )
