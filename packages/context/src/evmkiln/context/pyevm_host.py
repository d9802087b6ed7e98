"""The host over a py-evm computation.

One :class:`PyEvmHost` serves one compiled frame and wraps that frame's own
py-evm computation, so everything the interpreter would record on the
computation is recorded there too: logs go through ``add_log_entry`` (which
numbers them for ordering with the children's), child frames go through
the computation class's ``apply_message`` and ``add_child_computation``
(which keep refunds, touched accounts, ``contracts_created``, snapshots and
reverts exactly as py-evm's own CALL/CREATE opcodes leave them; a tool's
computation class gets ``prepare_child_message``/``apply_child_computation``
as py-evm calls them), and self-destructs are registered on the computation
for the end-of-transaction sweep.

Storage reads are cached for the frame's lifetime.  py-evm's account
database decodes the account and the slot on every ``get_storage`` (about
15 µs), and real contracts read the same slots over and over (snailtracer:
94,000 SLOADs).  Within one frame only the frame's own SSTOREs change
storage -- which write through the cache -- until it runs a child: a call
or create may write any storage (a DELEGATECALL child writes this very
account's), so each child clears the cached values.  The cache of *warm*
slots survives children: a slot this frame warmed was warm before the
child's snapshot, so not even a reverting child can make it cold again.

py-evm is untyped here: everything crossing into it is ``Any``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.computation import BaseComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.gas_meter import GasMeter
from eth.vm.state import BaseState

from evmkiln.builtins.host import ChildResult
from evmkiln.context.flat_state import FlatAccountDB
from evmkiln.context.lean_computation import child_message, runs_lean
from evmkiln.context.state_class import StateShortcuts
from evmkiln.context.transient_storage import JournaledTransientStorage

if TYPE_CHECKING:
    from evmkiln.builtins.host import Host


_DESIGNATION_PREFIX = b"\xef\x01\x00"
_DESIGNATION_SIZE = 23
"""EIP-7702: ``0xef0100`` followed by the 20-byte address delegated to."""


def gas_remaining(computation: Any) -> int:
    """The gas a computation has left, also under gas meters that keep no count.

    titanoboa's ``disable_gas_metering()`` installs a meter with no
    ``gas_remaining`` (nor ``start_gas``): py-evm's ``get_gas_remaining`` then
    raises ``AttributeError``.  Such a meter charges nothing, so the gas the
    message was given is what is left.
    """
    try:
        return int(computation.get_gas_remaining())
    except AttributeError:
        return 0 if computation.is_error else int(computation.msg.gas)


def child_outcome(child: Any) -> tuple[bool, bytes, int]:
    """A child computation's ``is_success``, ``output`` and :func:`gas_remaining`.

    For a computation of a class exactly as ``make_vm_class`` made it, with
    py-evm's gas meter, read where py-evm keeps them (the error, the output,
    the meter), as its properties would: no output when the error erases
    return data, no gas when it burns it.
    """
    if runs_lean(type(child)) and type(meter := child._gas_meter) is GasMeter:
        error = child._error
        if error is None:
            return True, child._output, meter.gas_remaining
        return (
            False,
            b"" if error.erases_return_data else child._output,
            0 if error.burns_gas else meter.gas_remaining,
        )
    return bool(child.is_success), child.output, gas_remaining(child)


def _minimal_bytes(value: int) -> bytes:
    # The byte form py-evm's stack gives a word (at least one byte), which is how
    # its interpreter stores transient values: keep the two interchangeable.
    return value.to_bytes(max(1, (value.bit_length() + 7) >> 3), "big")


def _takes_checked_logs(computation: Any) -> bool:
    """Whether ``computation`` may take compiled frames' logs without validating them again.

    It may when its class has ``add_checked_log_entry`` (evmkiln's
    computations) and no subclass (a tool's tracer) overrides
    ``add_log_entry``: then every log must go through that override.  Decided
    once per class (a host is made for every compiled frame).
    """
    cls = type(computation)
    checked = cls.__dict__.get("_kiln_checked_logs")
    if checked is None:
        checked = (
            getattr(cls, "add_checked_log_entry", None) is not None
            and cls.add_log_entry is BaseComputation.add_log_entry
        )
        cls._kiln_checked_logs = checked
    return bool(checked)


def _stamps_cover_transient(state: Any, db: FlatAccountDB) -> bool:
    """Whether every transient write of ``state`` drops ``db``'s storage stamp of its
    account, so that a stamp vouches for transient storage too.

    It does when the state's transient storage is evmkiln's, shares ``db``'s
    journal (:meth:`~evmkiln.context.transient_storage.JournaledTransientStorage.share`),
    and is written only through its own methods: py-evm's state methods
    reach it, and neither class is a tool's override.  The classes' verdict
    is decided once per class.  The storage itself is asked too: a state
    given a new transient storage, or a database given a new state, has
    not shared it yet.  A state whose storage is not made yet is covered
    while the database has lent its journal to no other storage.
    """
    if getattr(state, "_kiln_journal_of", None) is not db:
        return False
    cls = type(state)
    verdict = cls.__dict__.get("_kiln_transient_plain")
    if verdict is None:
        verdict = (
            cls.set_transient_storage is CancunState.set_transient_storage
            and cls.clear_transient_storage is StateShortcuts.clear_transient_storage
            and cls.transient_storage is StateShortcuts.transient_storage
        )
        cls._kiln_transient_plain = verdict
    storage = state._kiln_transient
    if storage is None:
        # None made yet: no transient value to vouch for, if no other state's storage
        # took the database's journal either.  The storage made on first use joins
        # it then, a new loan, which drops every stamp handed out before.
        storage_class = state._transient_storage_class
        lent = db.lent_to(None)
    else:
        storage_class = type(storage)
        shared = storage.shared
        lent = shared is not None and db.lent_to(shared)
    return (
        lent
        and bool(verdict)
        and storage_class.set_transient_storage is JournaledTransientStorage.set_transient_storage
        and storage_class.clear is JournaledTransientStorage.clear
    )


FRAME_WALK_LIMIT = 64
"""Frames :meth:`PyEvmHost.frame_ran_at` looks at before answering that one may have
run: a call that ran more frames than this costs the caller its storage table,
and deep chains of calls cost no more than this each."""


PairReader = Callable[[bytes, int], tuple[int, int]]
SlotLoader = Callable[[bytes, int], tuple[bool, int, int]]
SlotWriter = Callable[[bytes, int, int], None]


def _storage_access(
    state: Any,
) -> tuple[PairReader | None, SlotLoader | None, SlotWriter | None]:
    """The flat state's ``current_and_original``, ``load_slot`` and ``write_slot``,
    each where going through it is what the state's own methods would do.

    The first stands for ``get_storage``, the second also for
    ``is_storage_warm`` and ``mark_storage_warm``, the third for
    ``set_storage``: each is used only when the state class keeps py-evm's
    methods (decided once per class) and its account database is evmkiln's
    flat one.  Kept on the state for its database (:data:`_ACCESS`).
    """
    db = state._account_db
    cls = type(state)
    made = getattr(state, _ACCESS, None)
    if made is not None and made[0] is db and made[1] is type(db) and made[2] is cls:
        return made[3]  # type: ignore[no-any-return]
    verdict = cls.__dict__.get("_kiln_plain_storage")
    if verdict is None:
        plain_reads = cls.get_storage is BaseState.get_storage
        verdict = (
            plain_reads,
            plain_reads
            and cls.is_storage_warm is BaseState.is_storage_warm
            and cls.mark_storage_warm is BaseState.mark_storage_warm,
            cls.set_storage is BaseState.set_storage,
        )
        cls._kiln_plain_storage = verdict
    access: tuple[PairReader | None, SlotLoader | None, SlotWriter | None] = (None, None, None)
    if _keeps_flat_storage(type(db)):
        access = (
            db.current_and_original if verdict[0] else None,
            db.load_slot if verdict[1] else None,
            db.write_slot if verdict[2] else None,
        )
    # ``try`` costs nothing when nothing is raised; ``contextlib.suppress`` costs calls.
    try:  # noqa: SIM105
        setattr(state, _ACCESS, (db, type(db), cls, access))
    except AttributeError:  # a state without an instance dictionary: decided each time
        pass
    return access


_ACCESS = "_kiln_storage_access"
"""State attribute: ``(account database, its class, the state's class, what
_storage_access gave for them)``.  Every compiled frame's host asks at its first
storage crossing; the answer changes only with the database (a tool may give the
state another) or either class (a tool may swap in a subclass); the classes'
verdicts are kept on them once decided.
"""


_FLAT_STORAGE = ("get_storage", "set_storage", "is_storage_warm", "mark_storage_warm")


def _keeps_flat_storage(db_class: type) -> bool:
    """Whether ``db_class`` is evmkiln's flat database with its storage methods as they
    are: the shortcuts stand for those methods, so a subclass that overrides one
    (a tool watching storage) is reached through it instead.  Decided once per
    class, and kept on it (as the state class's verdict is)."""
    verdict = db_class.__dict__.get("_kiln_flat_storage")
    if verdict is None:
        verdict = issubclass(db_class, FlatAccountDB) and all(
            getattr(db_class, name) is getattr(FlatAccountDB, name) for name in _FLAT_STORAGE
        )
        db_class._kiln_flat_storage = verdict  # type: ignore[attr-defined]
    return bool(verdict)


class PyEvmHost:
    """:class:`~evmkiln.builtins.host.Host` backed by ``computation.state``."""

    __slots__ = (
        "_add_log",
        "_add_logs",
        "_computation",
        "_delegations",
        "_loader",
        "_on_storage_write",
        "_originals",
        "_pair",
        "_readers_known",
        "_state",
        "_storage",
        "_tx",
        "_warm_slots",
        "_writer",
    )

    def __init__(
        self,
        computation: Any,
        *,
        delegations: bool = False,
        on_storage_write: Callable[[bytes, int], None] | None = None,
    ) -> None:
        """``delegations``: the fork follows EIP-7702 delegation designations (Prague on).

        ``on_storage_write(address, slot)`` is called before each SSTORE is
        applied: what a tool's SSTORE tracer would have seen (titanoboa records
        the slots written, for its storage dumps).
        """
        self._computation = computation
        self._delegations = delegations
        self._on_storage_write = on_storage_write
        self._state = computation.state
        self._tx = computation.transaction_context
        self._storage: dict[tuple[bytes, int], int] = {}
        self._originals: dict[tuple[bytes, int], int] = {}
        self._warm_slots: set[tuple[bytes, int]] = set()
        # How the frame reads storage and records logs is decided at its first storage
        # crossing or log: many frames have neither.
        self._readers_known = False
        self._pair: PairReader | None = None
        self._loader: SlotLoader | None = None
        self._writer: SlotWriter | None = None
        self._add_log: Any = None
        self._add_logs: Any = None

    def _know_readers(self) -> None:
        self._pair, self._loader, self._writer = _storage_access(self._state)
        self._readers_known = True

    def _know_log_adders(self) -> None:
        computation = self._computation
        if _takes_checked_logs(computation):
            self._add_log = computation.add_checked_log_entry
            self._add_logs = computation.add_checked_log_entries
        else:
            self._add_log = computation.add_log_entry

    @property
    def computation(self) -> Any:
        """The py-evm computation this host serves."""
        return self._computation

    # -- transaction and block environment ---------------------------------
    def origin(self) -> bytes:
        return bytes(self._tx.origin)

    def gas_price(self) -> int:
        return int(self._tx.gas_price)

    def coinbase(self) -> bytes:
        return bytes(self._state.coinbase)

    def timestamp(self) -> int:
        return int(self._state.timestamp)

    def block_number(self) -> int:
        return int(self._state.block_number)

    def prev_randao(self) -> int:
        return int.from_bytes(self._state.mix_hash, "big")

    def gas_limit(self) -> int:
        return int(self._state.gas_limit)

    def chain_id(self) -> int:
        return int(self._state.execution_context.chain_id)

    def base_fee(self) -> int:
        return int(self._state.base_fee)

    def blob_base_fee(self) -> int:
        return int(self._state.blob_base_fee)

    def block_hash(self, number: int) -> int:
        return int.from_bytes(self._state.get_ancestor_hash(number), "big")

    def blob_hashes(self) -> Sequence[bytes]:
        hashes: Sequence[bytes] = self._tx.blob_versioned_hashes
        return hashes

    # -- accounts ----------------------------------------------------------
    def get_balance(self, address: bytes) -> int:
        return int(self._state.get_balance(address))

    def get_nonce(self, address: bytes) -> int:
        return int(self._state.get_nonce(address))

    def increment_nonce(self, address: bytes) -> None:
        self._state.increment_nonce(address)

    def get_code(self, address: bytes) -> bytes:
        return bytes(self._state.get_code(address))

    def get_code_hash(self, address: bytes) -> int:
        return int.from_bytes(self._state.get_code_hash(address), "big")

    def account_exists(self, address: bytes) -> bool:
        return bool(self._state.account_exists(address))

    def account_is_empty(self, address: bytes) -> bool:
        return bool(self._state.account_is_empty(address))

    def has_code_or_nonce(self, address: bytes) -> bool:
        # The state's own answer, so a fork's collision rule (Osaka's EIP-7610
        # storage check) holds for compiled code exactly as for py-evm's opcodes.
        return bool(self._state.has_code_or_nonce(address))

    def delegation_target(self, address: bytes) -> bytes | None:
        if not self._delegations:
            return None
        code = self._state.get_code(address)
        if len(code) == _DESIGNATION_SIZE and code[:3] == _DESIGNATION_PREFIX:
            return bytes(code[3:])
        return None

    # -- EIP-2929 access lists ---------------------------------------------

    def access_account(self, address: bytes) -> bool:
        state = self._state
        if state.is_address_warm(address):
            return False
        state.mark_address_warm(address)
        return True

    def access_storage(self, address: bytes, slot: int) -> bool:
        key = (address, slot)
        if key in self._warm_slots:
            return False
        self._warm_slots.add(key)
        state = self._state
        if state.is_storage_warm(address, slot):
            return False
        state.mark_storage_warm(address, slot)
        return True

    # -- storage -----------------------------------------------------------
    def get_storage(self, address: bytes, slot: int) -> int:
        key = (address, slot)
        value = self._storage.get(key)
        if value is None:
            if not self._readers_known:
                self._know_readers()
            pair = self._pair
            if pair is None:
                value = int(self._state.get_storage(address, slot))
            else:  # the original value comes with it: the storage table wants both
                value, original = pair(address, slot)
                self._originals.setdefault(key, original)
            self._storage[key] = value
        return value

    def load_slot(self, address: bytes, slot: int) -> tuple[bool, int, int]:
        if not self._readers_known:
            self._know_readers()
        loader = self._loader
        if loader is not None and self._writer is not None:
            # Every write of this frame reaches the database as well as ``_storage``
            # (``set_storage``), so the database's answer is the one the caches would
            # give; filling them would only serve later reads that go to it anyway.
            return loader(address, slot)
        key = (address, slot)
        if loader is None or key in self._storage:
            cold = self.access_storage(address, slot)
            return cold, self.get_storage(address, slot), self.get_original_storage(address, slot)
        self._warm_slots.add(key)
        cold, value, original = loader(address, slot)
        self._storage[key] = value
        self._originals.setdefault(key, original)
        return cold, value, original

    def get_original_storage(self, address: bytes, slot: int) -> int:
        # A slot's value at the start of the transaction cannot change during it, and a
        # compiled frame asks for it at each storage crossing (to let native SSTORE price
        # later writes): read it once per frame.
        key = (address, slot)
        value = self._originals.get(key)
        if value is None:
            value = self._originals[key] = int(
                self._state.get_storage(address, slot, from_journal=False)
            )
        return value

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        if self._on_storage_write is not None:
            self._on_storage_write(address, slot)
        if not self._readers_known:
            self._know_readers()
        writer = self._writer
        if writer is None:
            self._state.set_storage(address, slot, value)
        else:  # a builtin's word, or a table's write-back: a canonical slot and value
            writer(address, slot, value)
        self._storage[(address, slot)] = value

    def get_transient(self, address: bytes, slot: int) -> int:
        return int.from_bytes(self._state.get_transient_storage(address, slot), "big")

    def set_transient(self, address: bytes, slot: int, value: int) -> None:
        self._state.set_transient_storage(address, slot, _minimal_bytes(value))

    # -- logs --------------------------------------------------------------
    def emit_log(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        if self._add_log is None:
            self._know_log_adders()
        self._add_log(address, topics, data)

    def emit_logs(self, address: bytes, logs: list[tuple[tuple[int, ...], bytes]]) -> None:
        if self._add_log is None:
            self._know_log_adders()
        add_logs = self._add_logs
        if add_logs is not None:
            add_logs(address, logs)
            return
        add_log = self._add_log
        for topics, data in logs:
            add_log(address, topics, data)

    # -- child frames ------------------------------------------------------
    def call(
        self,
        *,
        gas: int,
        value: int,
        to: bytes,
        sender: bytes,
        code_address: bytes,
        data: bytes,
        transfer_value: bool,
        is_static: bool,
        delegated: bool = False,
    ) -> ChildResult:
        computation = self._computation
        self._storage.clear()  # the child may write any storage, this account's too
        fields: dict[str, Any] = {
            "gas": gas,
            "to": to,
            "value": value,
            "data": data,
            "code": self._state.get_code(code_address),
            "sender": sender,
            "code_address": code_address,
            "should_transfer_value": transfer_value,
            "is_static": is_static,
            "is_delegation": delegated,
        }
        success, output, gas_left = child_outcome(self._run_child(fields))
        # Positional (success, output, gas_left, returndata): a class called with
        # keywords builds a dictionary of them first.
        return ChildResult(success, bytes(output), gas_left, bytes(computation.return_data))

    def create(
        self,
        *,
        gas: int,
        value: int,
        sender: bytes,
        address: bytes,
        initcode: bytes,
        salted: bool,
    ) -> ChildResult:
        computation = self._computation
        state = self._state
        self._storage.clear()  # the initcode may call back into any account
        fields: dict[str, Any] = {
            "gas": gas,
            "to": CREATE_CONTRACT_ADDRESS,
            "value": value,
            "data": b"",
            "code": initcode,
            "sender": sender,
            "create_address": address,
        }
        if salted:
            # py-evm runs CREATE2 children on cleared storage inside their own
            # snapshot, so a failed initcode also restores the cleared storage.
            snapshot = state.snapshot()
            state.delete_storage(address)
            child = self._run_child(fields)
            if child.is_error:
                state.revert(snapshot)
            else:
                state.commit(snapshot)
        else:
            child = self._run_child(fields)
        success, output, gas_left = child_outcome(child)
        return ChildResult(
            success, b"" if success else bytes(output), gas_left, bytes(computation.return_data)
        )

    def _run_child(self, fields: dict[str, Any]) -> Any:
        """``prepare_child_message`` then ``apply_child_computation`` of ``fields``.

        The class ``make_vm_class`` made does the same without their layers:
        a message built without validation (:func:`child_message`), the
        class's ``apply_message`` or ``apply_create_message``, and
        ``add_child_computation``.  A tool's subclass gets py-evm's methods.
        """
        computation = self._computation
        cls = type(computation)
        if not runs_lean(cls):
            return computation.apply_child_computation(computation.prepare_child_message(**fields))
        message = child_message(computation, fields)
        is_create = message.to == CREATE_CONTRACT_ADDRESS
        apply = cls.apply_create_message if is_create else cls.apply_message
        child = apply(self._state, message, self._tx, parent_computation=computation)
        # ``add_child_computation``, with the child's ``is_error``, ``output`` and
        # ``should_burn_gas`` read where the class (py-evm's, as made) keeps them.
        error = child._error
        if error is None:
            computation.return_data = b"" if is_create else child._output
        elif error.burns_gas and not is_create:
            computation.return_data = b""
        else:
            computation.return_data = b"" if error.erases_return_data else child._output
        computation.children.append(child)
        return child

    def frames_mark(self) -> int:
        return len(self._computation.children)

    def frame_ran_at(self, address: bytes, mark: int) -> bool:
        # Every frame run below this one is in its children's trees (py-evm records
        # each child computation, failed or not).  The walk is bounded: past
        # FRAME_WALK_LIMIT frames the answer is "may have".
        pending = list(self._computation.children[mark:])
        seen = 0
        while pending:
            seen += 1
            if seen > FRAME_WALK_LIMIT:
                return True
            child = pending.pop()
            if child.msg.storage_address == address:
                return True
            pending.extend(child.children)
        return False

    def storage_stamp(self, address: bytes) -> object | None:
        # Only where every storage read, write and warming of the state, and every
        # transient write, goes through the flat database or the transient storage
        # sharing its journal, which drop the stamps: what its shortcuts require.
        if not self._readers_known:
            self._know_readers()
        if self._writer is None or self._loader is None or self._pair is None:
            return None
        state = self._state
        db = state._account_db
        if not _stamps_cover_transient(state, db):
            return None
        stamp: object = db.storage_stamp(address)
        return stamp

    # -- self-destruction --------------------------------------------------
    def created_in_transaction(self, address: bytes) -> bool:
        return address in self._computation.contracts_created

    def selfdestruct(self, address: bytes, beneficiary: bytes, destroy: bool) -> None:
        state = self._state
        computation = self._computation
        if destroy:
            # Credit first, then zero: naming itself as beneficiary burns the balance.
            state.set_balance(
                beneficiary, state.get_balance(address) + state.get_balance(beneficiary)
            )
            state.set_balance(address, 0)
            computation.register_account_for_deletion(beneficiary)
        else:
            amount = state.get_balance(address)
            state.delta_balance(beneficiary, amount)
            state.delta_balance(address, -amount)
            computation.beneficiaries.append(beneficiary)


if TYPE_CHECKING:
    # Static proof that PyEvmHost satisfies the Host protocol.
    _HOST_CHECK: Host = PyEvmHost(None)
