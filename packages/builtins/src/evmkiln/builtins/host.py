"""What builtins need from the chain: the host interface.

The host is a *state* interface.  It answers questions about the block, the
transaction and the accounts, applies state changes, and runs child frames;
it never decides what anything costs.  Every gas rule (EIP-2929 access costs,
EIP-2200/3529 SSTORE pricing, EIP-150's 63/64 rule, stipends, memory
expansion) lives in the builtins, written once, so every host (py-evm today,
a native state backend tomorrow) charges identically and a host cannot drift
from the fork's gas schedule.  For the same reason the host reports facts the
rules need ("was this slot cold?", "what was its value at the start of the
transaction?") instead of prices.

Conventions:

* Addresses are 20-byte ``bytes``; storage slots, values and hashes that end
  up on the EVM stack are ``int`` (unsigned 256-bit), so builtins can return
  them without conversion.
* Every method may be called in any frame state: the host performs no
  validation that belongs to the EVM rules (static context, balances for
  calls, depth) -- builtins do that before calling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

KEPT_ENTRIES_LIMIT = 32
"""The most storage entries a native backend keeps across a call that left its account
alone (:meth:`Host.frame_ran_at`).  Every later call tells the host the values held
back in each kept entry, which costs a check per entry; past this many, the checks
would cost more than the crossings that keeping the entries saves, so the table is
forgotten after the call, as it was before tables were kept."""


@dataclass(frozen=True, slots=True)
class ChildResult:
    """The outcome of a child frame (a sub-call or a create), as the parent sees it."""

    success: bool
    """The child ended without an exceptional halt or REVERT."""
    output: bytes
    """The child's output as the parent may copy it: empty when the child's
    failure erases return data (every exceptional halt), the revert reason for
    REVERT, the returned bytes otherwise.  For creates, the deployed code on
    success is *not* exposed here (it is empty on success, per the EVM)."""
    gas_left: int
    """Gas handed back to the parent (0 when the child burnt its gas)."""
    returndata: bytes
    """The parent's new return-data buffer (what RETURNDATASIZE/COPY see next)."""


class Host(Protocol):
    """The chain state one frame can reach, as a transaction sees it."""

    # -- transaction and block environment ---------------------------------
    def origin(self) -> bytes:
        """The transaction's sender (ORIGIN)."""
        ...

    def gas_price(self) -> int:
        """The effective gas price of the transaction (GASPRICE)."""
        ...

    def coinbase(self) -> bytes:
        """The block's beneficiary (COINBASE)."""
        ...

    def timestamp(self) -> int: ...

    def block_number(self) -> int: ...

    def prev_randao(self) -> int:
        """The beacon chain randomness (PREVRANDAO, formerly DIFFICULTY)."""
        ...

    def gas_limit(self) -> int:
        """The block's gas limit (GASLIMIT)."""
        ...

    def chain_id(self) -> int: ...

    def base_fee(self) -> int: ...

    def blob_base_fee(self) -> int:
        """EIP-7516's BLOBBASEFEE, derived from the block's excess blob gas."""
        ...

    def block_hash(self, number: int) -> int:
        """Hash of ancestor block ``number``, or 0 when unknown.

        The 256-block window is a rule and is applied by the builtin; the host
        is only asked about numbers inside it.
        """
        ...

    def blob_hashes(self) -> Sequence[bytes]:
        """The transaction's EIP-4844 versioned blob hashes (32 bytes each)."""
        ...

    # -- accounts ----------------------------------------------------------
    def get_balance(self, address: bytes) -> int: ...

    def get_nonce(self, address: bytes) -> int: ...

    def increment_nonce(self, address: bytes) -> None: ...

    def get_code(self, address: bytes) -> bytes: ...

    def get_code_hash(self, address: bytes) -> int:
        """Keccak of the account's code (the empty-code hash for accounts without code)."""
        ...

    def account_exists(self, address: bytes) -> bool:
        """The account is present in the state trie (possibly empty)."""
        ...

    def account_is_empty(self, address: bytes) -> bool:
        """EIP-161 emptiness: no code, zero nonce, zero balance.

        A missing account is empty, so this also answers EIP-161's "dead"
        (missing or empty) question without a second lookup.
        """
        ...

    def has_code_or_nonce(self, address: bytes) -> bool:
        """Whether creating a contract at ``address`` collides with an existing one.

        Named after py-evm's state method, which decides the same question for
        the interpreter; the answer is the fork's: code or a nonce, and from
        EIP-7610 on (evmkiln's Osaka) non-empty storage too.  Compiled CREATE
        and CREATE2 ask only this, so every backend follows the fork's rule.
        """
        ...

    def delegation_target(self, address: bytes) -> bytes | None:
        """The account ``address``'s code delegates to (EIP-7702), or None.

        From Prague on, code ``0xef0100 || target`` is a delegation
        designation: a call to the account runs ``target``'s code.  Before
        Prague there is no such thing and the answer is always None.
        """
        ...

    # -- EIP-2929 access lists ---------------------------------------------
    def access_account(self, address: bytes) -> bool:
        """Add ``address`` to the transaction's accessed set; return whether it was cold.

        Precompiles and the other pre-warmed addresses report warm.  The
        access set is journaled with the state, so a reverted frame also
        forgets what it warmed.
        """
        ...

    def access_storage(self, address: bytes, slot: int) -> bool:
        """Add ``(address, slot)`` to the accessed set; return whether it was cold."""
        ...

    # -- storage -----------------------------------------------------------
    def get_storage(self, address: bytes, slot: int) -> int:
        """The slot's current value, including this transaction's writes."""
        ...

    def load_slot(self, address: bytes, slot: int) -> tuple[bool, int, int]:
        """``access_storage``, ``get_storage`` and ``get_original_storage`` at once:
        ``(was cold, current, original)``, the slot warmed.  What an SLOAD
        crossing asks; one call is cheaper than three."""
        ...

    def get_original_storage(self, address: bytes, slot: int) -> int:
        """The slot's value at the start of the transaction (EIP-2200's "original")."""
        ...

    def set_storage(self, address: bytes, slot: int, value: int) -> None: ...

    def get_transient(self, address: bytes, slot: int) -> int:
        """EIP-1153 transient storage (cleared at the end of each transaction)."""
        ...

    def set_transient(self, address: bytes, slot: int, value: int) -> None: ...

    # -- logs --------------------------------------------------------------
    def emit_log(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        """Record a log entry, ordered with respect to the logs of child frames."""
        ...

    def emit_logs(self, address: bytes, logs: list[tuple[tuple[int, ...], bytes]]) -> None:
        """:meth:`emit_log` for each of ``logs`` (topics, data), in order: the logs native
        code buffered, handed over in one call."""
        ...

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
        """Run a message call one level deeper and return its outcome.

        ``gas`` is the child's full allowance (stipend included), already
        taken from the parent by the builtin.  ``to`` is the account whose
        storage and balance the child uses, ``code_address`` the account whose
        code it runs (they differ for CALLCODE and DELEGATECALL, and when
        ``delegated``: the builtin has followed an EIP-7702 delegation to
        ``code_address``, whose code runs but which is never run as a
        precompile).  The builtin
        has already checked depth and balance, so the call always starts; the
        host snapshots state and reverts it if the child fails.
        """
        ...

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
        """Run ``initcode`` to create a contract at ``address`` and return the outcome.

        The builtin has derived ``address``, bumped the creator's nonce,
        checked for a collision and taken ``gas`` from the parent.  ``salted``
        marks CREATE2, whose target storage is cleared (inside a snapshot)
        before the initcode runs.  Code deposit and its charges happen here,
        as part of finishing the child frame.
        """
        ...

    def frames_mark(self) -> int:
        """A mark of the child frames run so far, for :meth:`frame_ran_at`."""
        ...

    def frame_ran_at(self, address: bytes, mark: int) -> bool:
        """Whether a frame whose storage is ``address``'s may have run since ``mark``,
        at any depth below this frame.

        False only when no such frame ran: then nothing changed the account's
        storage or transient storage in between, and a native backend keeps
        what it knows of them.  A host that cannot tell answers True.
        """
        ...

    def storage_stamp(self, address: bytes) -> object | None:
        """A token for ``address``'s storage as it is now, or None if the host cannot vouch.

        A native backend may keep the table of slots a frame read and wrote
        (values, transaction-start originals, all warm; transient slots'
        values) for the next frame of the same transaction on the same
        account, and use it then only if the host hands out the same token
        (compared by identity).  The host
        hands out a new one after anything that could make the table wrong:
        a write or wipe of the account's storage or transient storage by
        anyone, a revert, the end of the transaction.  A host that cannot see
        every write of both gives None.
        """
        ...

    # -- self-destruction --------------------------------------------------
    def created_in_transaction(self, address: bytes) -> bool:
        """Whether ``address`` was created earlier in the current transaction (EIP-6780)."""
        ...

    def selfdestruct(self, address: bytes, beneficiary: bytes, destroy: bool) -> None:
        """Move ``address``'s whole balance to ``beneficiary``.

        With ``destroy`` the account is also scheduled for deletion at the end
        of the transaction, and its balance ends at zero even when it names
        itself as beneficiary (the ether is burnt).  Without it (EIP-6780: the
        account predates the transaction) only the transfer happens, so a
        self-transfer changes nothing.
        """
        ...
