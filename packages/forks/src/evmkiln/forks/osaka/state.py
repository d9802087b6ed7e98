"""Osaka's state class: its transaction validity rules and EIP-7610's collision rule."""

from __future__ import annotations

from typing import Any, ClassVar

from eth.vm.forks.prague.state import PragueState

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.osaka.computation import OsakaComputation
from evmkiln.forks.osaka.constants import OSAKA_BLOBS
from evmkiln.forks.osaka.validation import validate_osaka_transaction
from evmkiln.forks.storage import account_has_storage


class OsakaState(PragueState):
    """Prague's state with Osaka's transaction validity rules.

    ``blob_schedule`` is a class attribute so that a chain (or a fixture's
    ``config``) with other blob parameters is a subclass, not a patch.
    """

    computation_class = OsakaComputation
    blob_schedule: ClassVar[BlobSchedule] = OSAKA_BLOBS

    @property
    def blob_base_fee(self) -> int:
        return self.blob_schedule.blob_base_fee(self.execution_context.excess_blob_gas or 0)

    def validate_transaction(self, transaction: Any) -> None:
        """Osaka's rules and those py-evm leaves out (:mod:`~evmkiln.forks.osaka.validation`),
        then Prague's."""
        validate_osaka_transaction(self, transaction)
        super().validate_transaction(transaction)

    def has_storage(self, address: Any) -> bool:
        """Whether ``address`` has a non-zero storage slot."""
        return account_has_storage(self._account_db, address)

    def has_code_or_nonce(self, address: Any) -> bool:
        """Whether creating a contract at ``address`` collides (EIP-7610 included).

        py-evm asks exactly this question, under this name, where it decides a
        collision: the CREATE and CREATE2 opcodes and a creation transaction
        (its ``build_computation``), and evmkiln's builtins ask it through the
        host.  EIP-7610 adds a third condition to code and nonce: non-empty
        storage, which an address can hold without either (storage left by
        a pre-EIP-161 self-destruct, or put in place by genesis).
        """
        return bool(super().has_code_or_nonce(address)) or self.has_storage(address)
