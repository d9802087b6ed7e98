"""The transaction context of a transaction, built without its constructor's checks.

Every transaction asks its state for a transaction context (the gas price
and origin that GASPRICE and ORIGIN read, the log counter, the blob hashes)
when it builds its computation.  From London on, py-evm computes the
effective gas price in London's method, Cancun's adds the blob hashes, and
the context's constructor validates the price and the origin: three layers
and two validators for every transaction.

:func:`lean_transaction_contexts` gives a state class whose
``get_transaction_context`` is Cancun's over London's the same method in one
function: the same price, origin and blob hashes, and a context of the
state's context class with every field its constructor sets, set directly
when the price is a 256-bit integer and the origin 20 bytes (what the
constructor's checks accept).  Otherwise the constructor runs, and raises
as before.  A state class with another method, or a context class with
another constructor, keeps py-evm's.
"""

from __future__ import annotations

import itertools
from typing import Any

from eth.constants import UINT_256_MAX
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.london.state import LondonState
from eth.vm.state import BaseState
from eth.vm.transaction_context import BaseTransactionContext

__all__ = ["lean_transaction_contexts"]


_DECIDED = "_kiln_context_class"
"""Class attribute: ``(context class, whether it is built without its
constructor)``, decided per state class and again when its context class
changes."""


def _get_transaction_context(self: Any, transaction: Any) -> Any:
    """Cancun's ``get_transaction_context`` (London's effective gas price, the blob
    hashes), with the context's fields set where its constructor sets them.

    py-evm's order: the price, then the context class, then the origin.
    """
    gas_price = min(
        transaction.max_priority_fee_per_gas + self.execution_context.base_fee_per_gas,
        transaction.max_fee_per_gas,
    )
    cls = type(self)
    context_class = cls.transaction_context_class
    decided = cls.__dict__.get(_DECIDED)
    if decided is None or decided[0] is not context_class:
        decided = (context_class, _constructs_plainly(cls))
        setattr(cls, _DECIDED, decided)
    if not decided[1] or "get_transaction_context_class" in self.__dict__:
        return _with_blob_hashes(
            self.get_transaction_context_class()(gas_price=gas_price, origin=transaction.sender),
            transaction,
        )
    origin = transaction.sender
    if (
        type(gas_price) is int
        and 0 <= gas_price <= UINT_256_MAX
        and type(origin) is bytes
        and len(origin) == 20
    ):
        context = object.__new__(context_class)
        context._gas_price = gas_price
        context._origin = origin
        context._log_counter = itertools.count()
        context._blob_versioned_hashes = []
        context._authorization_list = []
        return _with_blob_hashes(context, transaction)
    return _with_blob_hashes(context_class(gas_price=gas_price, origin=origin), transaction)


def _with_blob_hashes(context: Any, transaction: Any) -> Any:
    """Cancun's addition: a blob transaction's versioned hashes on its context."""
    if hasattr(transaction, "type_id") and transaction.type_id == BLOB_TX_TYPE:
        context._blob_versioned_hashes = transaction.blob_versioned_hashes
    return context


def _constructs_plainly(state_class: type[Any]) -> bool:
    """Whether ``state_class``'s context class is the one ``get_transaction_context_class``
    gives and py-evm's base constructor builds it (with an instance dictionary for
    ``_authorization_list``)."""
    if state_class.get_transaction_context_class.__func__ is not (
        BaseState.get_transaction_context_class.__func__  # type: ignore[attr-defined]
    ):
        return False
    context_class: Any = state_class.transaction_context_class
    return bool(
        context_class is not None
        and context_class.__init__ is BaseTransactionContext.__init__
        and context_class.__dictoffset__  # instances with a dictionary
        and context_class.__new__ is object.__new__
    )


def _next_definition(state_class: type[Any], after: type[Any], name: str) -> Any:
    """``name`` as ``super(after, instance)`` finds it for an instance of ``state_class``."""
    mro = state_class.__mro__
    for klass in mro[mro.index(after) + 1 :]:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def lean_transaction_contexts(state_class: type[Any]) -> dict[str, Any]:
    """What a subclass of ``state_class`` sets to build its transaction contexts in
    one function (empty: keep py-evm's).

    Applies when ``state_class``'s ``get_transaction_context`` is Cancun's over
    London's (every fork from Cancun on, in py-evm and in evmkiln).  Whether
    the context class can be built without its constructor is decided per
    class at its first transaction, so a subclass that sets another context
    class is judged for itself.
    """
    name = "get_transaction_context"
    if (
        getattr(state_class, name, None) is not CancunState.get_transaction_context
        or _next_definition(state_class, CancunState, name) is not LondonState.__dict__[name]
    ):
        return {}
    return {name: _get_transaction_context}
