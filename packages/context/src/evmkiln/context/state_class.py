"""The state classes evmkiln makes: py-evm's fork state on the flat state, with shortcuts.

Every message frame takes a snapshot and settles it, and every transaction
asks its state for a logger a few times; py-evm pays more for each than the
work needs.  :func:`flat_state_class` subclasses a fork's state class at
py-evm's own seams (``account_db_class``, ``_transient_storage_class``, and
methods of the state itself) and :func:`with_flat_state` puts any VM class
on such a state.  Everything py-evm computes from the state is unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from eth.abc import AccountDatabaseAPI
from eth.typing import JournalDBCheckpoint
from eth.vm.state import BaseState
from eth_typing import Hash32
from eth_utils.logging import ExtendedDebugLogger, get_extended_debug_logger

from evmkiln.context.flat_state import flat_account_db_class
from evmkiln.context.message_building import quiet_message_building
from evmkiln.context.spoofed_transactions import remember_attributes
from evmkiln.context.state_clearing import linear_state_clearing
from evmkiln.context.state_layers import StateLayers
from evmkiln.context.transaction_contexts import lean_transaction_contexts
from evmkiln.context.transient_storage import JournaledTransientStorage


class StateShortcuts:
    """Mixed into evmkiln's state classes: direct snapshots and a logger made once.

    py-evm's Cancun state takes a snapshot through three layers of methods
    and keeps transient storage in a journal of its own; a snapshot is taken
    and closed for every message.  Here both journals are reached directly.
    The snapshot is the same pair py-evm's is (the account database's root,
    one checkpoint shared by both journals), taken and settled in the same
    order, so it holds for any account database a state carries (a tool may
    swap in its own, as titanoboa does).

    A spoofed transaction (``eth_call``, gas estimation) is run as one that
    looks each attribute up once.

    py-evm's ``logger`` property looks its logger up by name on every use,
    under the logging module's lock (about 10 µs; three uses per
    transaction): the same logger is kept on the class.
    """

    _account_db: AccountDatabaseAPI
    _transient_storage_class: Any
    _kiln_journal_of: Any = None
    """The account database whose journal the transient storage writes in (its
    checkpoints then cover both), or None."""

    _kiln_transient: Any = None
    _kiln_storage_access: Any = None
    """The storage readers compiled frames' hosts use, for the database they were
    decided on (:func:`~evmkiln.context.pyevm_host._storage_access`)."""

    @property
    def transient_storage(self) -> Any:
        """py-evm's: the state's transient storage, made on first use.

        Most messages never use it, so a snapshot does not make it: when a
        snapshot found none, it decided that the storage made later joins
        the database's journal then (see :meth:`_kiln_share_journal`).
        """
        storage = self._kiln_transient
        if storage is None:
            storage = self._kiln_transient = self._transient_storage_class()
            lender = self._kiln_journal_of
            if lender is not None and (
                lender is not self._account_db
                or not storage.share(cast(Any, lender).share_journal())
            ):
                self._kiln_journal_of = None
        return storage

    @property
    def _transient_storage(self) -> Any:
        return self._kiln_transient

    @_transient_storage.setter
    def _transient_storage(self, storage: Any) -> None:
        # A tool may give the state another transient storage (or drop it, for py-evm
        # to make anew): that one is not the storage sharing the database's journal,
        # so it journals apart until the next snapshot shares it.
        self._kiln_transient = storage
        self._kiln_journal_of = None

    def snapshot(self) -> tuple[Hash32, JournalDBCheckpoint]:
        db = self._account_db
        if self._kiln_journal_of is not db and not self._kiln_share_journal(db):
            checkpoint = db.record()
            self.transient_storage.record(checkpoint)
            return db.state_root, checkpoint
        checkpoint = db.record()
        return db.state_root, checkpoint

    def _kiln_share_journal(self, db: Any) -> bool:
        """Whether the transient storage now journals in ``db``'s journal.

        Decided at the first snapshot on ``db``: shared when ``db`` lends its
        journal (the flat state's) and nothing is open, else kept apart.  A
        state with no transient storage yet makes none here: the storage of
        evmkiln's class, made on first use, joins ``db``'s journal then (an
        empty storage may, whatever is open: everything it writes comes
        after every open checkpoint).
        """
        storage = self._kiln_transient
        if storage is None:
            if getattr(db, "share_journal", None) is not None and issubclass(
                self._transient_storage_class, JournaledTransientStorage
            ):
                self._kiln_journal_of = db
                return True
            storage = self.transient_storage
        if isinstance(storage, JournaledTransientStorage):
            lend = getattr(db, "share_journal", None)
            if storage.share(None if lend is None else lend()) and lend is not None:
                self._kiln_journal_of = db
                return True
        self._kiln_journal_of = None
        return False

    def clear_transient_storage(self) -> None:
        # py-evm's, without making a storage only to clear it.
        storage = self._kiln_transient
        if storage is not None:
            storage.clear()

    def commit(self, snapshot: tuple[Hash32, JournalDBCheckpoint]) -> None:
        checkpoint = snapshot[1]
        db = self._account_db
        db.commit(checkpoint)
        if self._kiln_journal_of is not db:
            self.transient_storage.commit(checkpoint)

    def revert(self, snapshot: tuple[Hash32, JournalDBCheckpoint]) -> None:
        state_root, checkpoint = snapshot
        db = self._account_db
        db.state_root = state_root
        db.discard(checkpoint)
        if self._kiln_journal_of is not db:
            self.transient_storage.discard(checkpoint)

    def apply_transaction(self, transaction: Any) -> Any:
        """py-evm's, on a spoofed transaction that reads each attribute once
        (:mod:`evmkiln.context.spoofed_transactions`): ``eth_call`` and gas
        estimation reach the state here without the VM."""
        return super().apply_transaction(remember_attributes(transaction))  # type: ignore[misc]

    @property
    def logger(self) -> ExtendedDebugLogger:
        cls = type(self)
        logger: ExtendedDebugLogger | None = cls.__dict__.get("_kiln_logger")
        if logger is None:
            # py-evm's name for it, so logging configuration applies as before.
            logger = get_extended_debug_logger(f"eth.vm.state.{cls.__name__}")
            cls._kiln_logger = logger  # type: ignore[attr-defined]
        return logger


def direct_journal(state: Any) -> Any:
    """The flat account database a message may open and close its checkpoint on
    directly (``record`` and ``touch_account``, then ``commit``), or None.

    That is ``state``'s own database when the state shares its journal with
    the transient storage (:meth:`StateShortcuts.snapshot` decided so), and
    the state class takes its snapshots, commits, reverts and touches as
    :class:`StateShortcuts` and py-evm's ``BaseState`` do, unchanged by a
    subclass.  Then a snapshot is ``(db.state_root, db.record())``, a commit
    ``db.commit(checkpoint)`` and a touch ``db.touch_account(address)``.
    """
    cls = type(state)
    if getattr(cls, "_kiln_direct_class", None) is not cls:
        if cls.__dict__.get("_kiln_direct_class", False) is None:
            return None
        direct = (
            getattr(cls, "snapshot", None) is StateShortcuts.snapshot
            and getattr(cls, "commit", None) is StateShortcuts.commit
            and getattr(cls, "revert", None) is StateShortcuts.revert
            and getattr(cls, "touch_account", None) is BaseState.touch_account
        )
        cls._kiln_direct_class = cls if direct else None
        if not direct:
            return None
    db = state._account_db
    if state._kiln_journal_of is db:
        return db
    # Undecided (the state's first message): decide now, where the database can take it.
    if hasattr(db, "open_message") and state._kiln_share_journal(db):
        return db
    return None


def flat_state_class(
    state_class: type[Any],
    layers: StateLayers | None = None,
    name: str | None = None,
    **attributes: Any,
) -> type[Any]:
    """``state_class`` on a :class:`~evmkiln.context.flat_state.FlatAccountDB` (over
    its own account database), with
    :class:`~evmkiln.context.transient_storage.JournaledTransientStorage`,
    :class:`StateShortcuts`, EIP-161 clearing in linear time
    (:mod:`evmkiln.context.state_clearing`), message building that formats
    no unread debug line (:mod:`evmkiln.context.message_building`) and
    transaction contexts built in one function
    (:mod:`evmkiln.context.transaction_contexts`);
    ``attributes`` are set on the new class too."""
    flat_db = flat_account_db_class(state_class.get_account_db_class(), layers)
    namespace = {
        "account_db_class": flat_db,
        "_transient_storage_class": JournaledTransientStorage,
        "transaction_executor_class": quiet_message_building(
            linear_state_clearing(state_class.transaction_executor_class)
        ),
        **lean_transaction_contexts(state_class),
        **attributes,
    }
    bases = (StateShortcuts, state_class)
    return type(name or f"Flat{state_class.__name__}", bases, namespace)


def with_flat_state(vm_class: type[Any], layers: StateLayers | None = None) -> type[Any]:
    """``vm_class`` (any py-evm VM class) with its state on the flat state.

    Nothing else changes: every frame still runs on py-evm's interpreter.
    This is how plain py-evm users, and the ``pyevm-flat`` bench engine, get
    the flat state without compiling anything.
    """
    state = flat_state_class(vm_class.get_state_class(), layers)
    return type(f"Flat{vm_class.__name__}", (vm_class,), {"_state_class": state})
