"""The flat state over a tool's own account database answers as that database would.

A tool's database may be any subclass of py-evm's ``AccountDB``: the flat
state writes through it and keeps what it learns in layers.  These cases
are where the layers could answer for it wrongly.
"""

from __future__ import annotations

from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from message_harness import execution_context

from evmkiln.context.flat_state import flat_account_db_class
from evmkiln.context.state_class import with_flat_state
from evmkiln.context.state_layers import StateLayers

X = b"\x11" * 20
Y = b"\x22" * 20


class OwnAccountDB(AccountDB):  # type: ignore[misc]
    """A tool's database that changes nothing: the flat state's general path."""


def _storage_creates_an_account(account_db_class: Any) -> tuple[Any, ...]:
    db = AtomicDB()
    first = account_db_class(db, BLANK_ROOT_HASH)
    first.set_balance(Y, 1)
    first.persist()
    before = first.state_root
    # A tool writes a slot of an account that does not exist (py-evm creates it).
    second = account_db_class(db, before)
    second.set_storage(X, 1, 5)
    second.persist()
    after = second.state_root
    # The older root is read first (a query of an older block), then the newer.
    old = account_db_class(db, before)
    at_old = (old.account_exists(X), old.get_storage(X, 1))
    new = account_db_class(db, after)
    return after, at_old, (new.account_exists(X), new.get_storage(X, 1), new.get_nonce(X))


def test_an_account_made_by_a_storage_write_exists_at_the_new_root() -> None:
    stock = _storage_creates_an_account(AccountDB)
    assert stock[2] == (True, 5, 0)
    for inner in (AccountDB, OwnAccountDB):
        assert _storage_creates_an_account(flat_account_db_class(inner, StateLayers())) == stock


class RemoteDB(AtomicDB):  # type: ignore[misc]
    """A chain's database that also knows the network the chain was forked from."""

    def __init__(self, remote: dict[bytes, int]) -> None:
        super().__init__()
        self.remote = remote


class ForkAccountDB(AccountDB):  # type: ignore[misc]
    """Answers accounts its local trie lacks from the forked network (as RPC forks do)."""

    def __init__(self, db: Any, state_root: bytes = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        self._remote = getattr(db, "remote", {})

    def _get_account(self, address: bytes, from_journal: bool = True) -> Any:
        if self._get_encoded_account(address, from_journal) == b"" and address in self._remote:
            return Account(balance=self._remote[address])
        return super()._get_account(address, from_journal)


def test_states_over_a_tools_databases_do_not_share_what_the_roots_do_not_name() -> None:
    """Two chains forked from different networks, both at the empty local root."""

    class ForkState(CancunState):  # type: ignore[misc]
        account_db_class = ForkAccountDB

    fork_vm = CancunVM.configure(__name__="ForkVM", _state_class=ForkState)

    def balances(vm_class: Any) -> tuple[int, ...]:
        state_class = vm_class.get_state_class()
        one = RemoteDB({X: 100})
        states = [
            state_class(one, execution_context(), BLANK_ROOT_HASH),
            state_class(RemoteDB({X: 200}), execution_context(), BLANK_ROOT_HASH),
            state_class(one, execution_context(), BLANK_ROOT_HASH),  # the first chain again
        ]
        return tuple(state.get_balance(X) for state in states)

    assert balances(fork_vm) == (100, 200, 100)
    assert balances(with_flat_state(fork_vm)) == (100, 200, 100)


def test_a_databases_scope_goes_with_it() -> None:
    import gc

    from evmkiln.context import flat_state

    flat_class = flat_account_db_class(OwnAccountDB, StateLayers())
    db = AtomicDB()
    first, again = flat_class(db, BLANK_ROOT_HASH), flat_class(db, BLANK_ROOT_HASH)
    assert first._scope is again._scope  # the states of one chain share their layers
    assert flat_class(AtomicDB(), BLANK_ROOT_HASH)._scope is not first._scope
    key = id(db)
    assert key in flat_state._SCOPES
    del db, first, again
    gc.collect()
    assert key not in flat_state._SCOPES
    # py-evm's own database: the root alone names the state, every chain shares.
    assert flat_account_db_class(AccountDB, StateLayers())(AtomicDB())._scope is None
