"""Computation objects and child messages for compiled frames, built without what they never use.

py-evm's constructors validate every field of a message and give every
computation an interpreter's code stream, stack and memory.  A compiled
frame's message comes from a builtin whose arguments are valid by
construction, and its stack and memory live in native code, so here those
costs are left out: :func:`child_message` builds the message
``prepare_child_message`` would, :func:`new_computation` the computation
``cls(...)`` would, and :class:`LazyFrameParts` makes the interpreter's parts
when something reads them.

Only for computation classes exactly as
:func:`~evmkiln.context.vm.make_vm_class` makes them (:func:`runs_lean`): a
tool that subclasses the computation class may override its constructor or
``prepare_child_message``, so its frames are built by py-evm's code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.vm.code_stream import CodeStream
from eth.vm.forks.istanbul.computation import IstanbulComputation
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.gas_meter import GasMeter, allow_negative_refund_strategy
from eth.vm.memory import Memory
from eth.vm.message import Message
from eth.vm.stack import Stack


class _LazyPart:
    """A computation attribute made on first read when the constructor did not set it.

    A non-data descriptor: py-evm's own constructor assigns the attribute,
    which then lives in the instance and hides this; only computations built
    by :func:`new_computation` read it from here, once.
    """

    def __init__(self, make: Callable[[Any], Any]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self._make(instance)
        instance.__dict__[self._name] = value
        return value


class LazyFrameParts:
    """Mixed into evmkiln's computation classes: the interpreter's parts, made when read.

    A compiled frame has its own stack and memory in native code; py-evm's
    code stream, stack and memory objects are needed only by a tool that
    inspects them.
    """

    code = _LazyPart(lambda computation: CodeStream(computation.msg.code))
    _stack = _LazyPart(lambda computation: Stack())
    _memory = _LazyPart(lambda computation: Memory())


def _constructs_as_shanghai(cls: type) -> bool:
    """Whether ``cls`` is built by Shanghai's constructor and Istanbul's gas meter, unchanged."""
    init: Any = cls.__init__  # type: ignore[misc]
    return bool(
        init is ShanghaiComputation.__init__
        and getattr(cls, "_configure_gas_meter", None) is IstanbulComputation._configure_gas_meter
    )


def new_computation(
    cls: Any, state: Any, message: Any, transaction_context: Any, *, coinbase_warm: bool = False
) -> Any:
    """``cls(state, message, transaction_context)``, less what compiled frames never read.

    For the computation classes of every supported fork (Cancun on), the
    constructor is Shanghai's: the base fields, a gas meter with Istanbul's
    refund strategy, and the coinbase warmed (EIP-3651).  The same fields are
    set here, except the interpreter's parts (:class:`LazyFrameParts`).  A
    class with another constructor is called as usual.

    ``coinbase_warm``: the caller knows the coinbase is warm already (a
    child of a computation of this class, which warmed it when it was made,
    in a checkpoint still open), so warming it again would change nothing.
    """
    fast = cls.__dict__.get("_kiln_fast_constructor")
    if fast is None:
        fast = _constructs_as_shanghai(cls)
        cls._kiln_fast_constructor = fast
    if not fast:
        return cls(state, message, transaction_context)
    computation = object.__new__(cls)
    computation.state = state
    computation.msg = message
    computation.transaction_context = transaction_context
    meter = object.__new__(GasMeter)
    meter.refund_strategy = allow_negative_refund_strategy
    meter.start_gas = meter.gas_remaining = message.gas
    meter.gas_refunded = 0
    computation._gas_meter = meter
    computation.children = []
    computation.accounts_to_delete = []
    computation.beneficiaries = []
    computation._log_entries = []
    computation.data_floor_cost = 0
    # Class-level defaults in py-evm, set on the instance here with the same values:
    # every settling reads them, and an attribute the instance holds is read in one
    # step, not by a walk down the class's 26 bases on a cold type cache.
    computation._error = None
    computation._output = b""
    computation.return_data = b""
    if not coinbase_warm:
        state.mark_address_warm(state.coinbase)
    return computation


def child_message(parent: Any, fields: dict[str, Any]) -> Any:
    """The message ``parent.prepare_child_message(**fields)`` builds, without validation.

    A call's, or with ``to`` the empty address and ``create_address`` a
    create's (the fields of :func:`unchecked_message` but ``depth``).  Every
    field comes from a compiled frame's builtin: addresses of 20 bytes,
    words, ``bytes`` data and code, flags as ``bool``.  Validating them again
    (what ``Message.__init__`` spends its time on) cannot fail.
    """
    return unchecked_message(depth=parent.msg.depth + 1, **fields)


def unchecked_message(
    *,
    gas: int,
    to: bytes,
    sender: bytes,
    value: int,
    data: bytes,
    code: bytes,
    depth: int,
    code_address: bytes | None = None,
    create_address: bytes | None = None,
    should_transfer_value: bool = True,
    is_static: bool = False,
    is_delegation: bool = False,
    refund: int = 0,
) -> Any:
    """``Message(...)`` of fields its constructor's checks accept, without running them:
    each stored where the constructor stores it.  The caller knows they pass."""
    message: Any = object.__new__(Message)
    message.gas = gas
    message.to = to
    message.sender = sender
    message.value = value
    message.data = data
    message.depth = depth
    message.code = code
    message._storage_address = create_address
    message._code_address = code_address
    message.should_transfer_value = should_transfer_value
    message.is_static = is_static
    message._is_delegation = is_delegation
    message.refund = refund
    return message


def runs_lean(cls: Any) -> bool:
    """Whether ``cls`` is a computation class exactly as ``make_vm_class`` made it."""
    return getattr(cls, "_kiln_lean_class", None) is cls
