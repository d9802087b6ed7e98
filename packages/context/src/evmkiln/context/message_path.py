"""The message path of calls: from message to settled computation in one function.

py-evm runs a message through four layers of methods -- the executor's or
the parent's ``apply_child_computation``, the fork's ``apply_message``
(snapshot, value transfer, touch), ``apply_computation`` (the computation
object and its context manager) and the frame -- and builds each message and
computation with every field validated and an interpreter's code stream,
stack and memory attached.  For a frame whose code is compiled, a small call
paid more for that than for its own instructions.

:func:`apply_call_message` and :func:`run_compiled` are those layers, in
py-evm's order and with py-evm's effects: the same snapshot, the same checks
and exceptions, the same computation object left behind (children, logs,
refunds and deletions recorded on it as before), and the same settling of a
halt.  What they leave out is what compiled code never reads: the
computation's code stream, stack and memory are made on first use, and a
message built from a compiled frame's arguments is not validated again
(both in :mod:`evmkiln.context.lean_computation`).

The lean computations apply only to computation classes exactly as
:func:`~evmkiln.context.vm.make_vm_class` makes them (``runs_lean``): a tool
that subclasses the computation class may override any of the layers, so
its frames take py-evm's path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS, STACK_DEPTH_LIMIT
from eth.exceptions import InsufficientFunds, Revert, StackDepthLimit, VMError
from eth.vm.forks.frontier.computation import FrontierComputation
from eth.vm.gas_meter import GasMeter
from eth.vm.message import Message

from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.codegen.backend import Executable, ExitKind
from evmkiln.context.halt_map import is_inexact, pyevm_error
from evmkiln.context.lean_computation import new_computation, runs_lean
from evmkiln.context.pyevm_host import PyEvmHost, gas_remaining
from evmkiln.context.state_class import direct_journal

_new = object.__new__
_HOST_CLASS, _INIT_HOST = PyEvmHost, PyEvmHost.__init__
_FRAME_CLASS, _INIT_FRAME = Frame, Frame.__init__
_FRAME_INIT_FIELDS = tuple(field.name for field in dataclasses.fields(Frame) if field.init)


def _init_fields(frame: Frame) -> dict[str, Any]:
    """The fields ``Frame.__init__`` takes, as ``frame`` holds them."""
    return {name: getattr(frame, name) for name in _FRAME_INIT_FIELDS}


INEXACT = "evmkiln_inexact"
"""Set on a py-evm exception raised for a compiled frame's halt whose text or class may
differ from the interpreter's."""


def lean_message_path(fork_computation: Any) -> bool:
    """Whether :func:`apply_call_message` is the fork's ``apply_message`` for calls.

    Every fork from Cancun on keeps Frontier's; a fork that overrides it
    keeps py-evm's path.
    """
    fork_apply: Any = getattr(fork_computation.apply_message, "__func__", None)
    return fork_apply is FrontierComputation.apply_message.__func__  # type: ignore[attr-defined]


def apply_call_message(
    cls: Any,
    state: Any,
    message: Any,
    transaction_context: Any,
    parent_computation: Any,
) -> Any:
    """Frontier's ``apply_message`` for a call (not a create), with ``cls.apply_computation``.

    The snapshot, the depth limit, the value transfer and the touch, in
    py-evm's order, without the layers in between.  A message that moves no
    value, on a flat state whose journal the state shares
    (:func:`~evmkiln.context.state_class.direct_journal`), opens and
    closes its checkpoint on the account database directly: the same
    checkpoint and touch, in the same order, as the state's methods would.
    """
    db = direct_journal(state)
    if (
        db is not None
        and message.depth <= STACK_DEPTH_LIMIT
        and not (message.value and message.should_transfer_value)
    ):
        address = message._storage_address if type(message) is Message else message.storage_address
        if address is None:
            address = message.to
        snapshot = db.state_root, db.open_message(address)
        computation = cls.apply_computation(
            state, message, transaction_context, parent_computation=parent_computation
        )
        if computation._error is not None:
            state.revert(snapshot)
        else:
            db.commit(snapshot[1])
        return computation
    snapshot = state.snapshot()
    if message.depth > STACK_DEPTH_LIMIT:
        raise StackDepthLimit("Stack depth limit reached")
    value = message.value
    if value and message.should_transfer_value:
        sender_balance = state.get_balance(message.sender)
        if sender_balance < value:
            raise InsufficientFunds(f"Insufficient funds: {sender_balance} < {value}")
        state.delta_balance(message.sender, -value)
        state.delta_balance(message.storage_address, value)
    state.touch_account(message.storage_address)
    computation = cls.apply_computation(
        state, message, transaction_context, parent_computation=parent_computation
    )
    # ``is_error``, read where it is kept: the class is py-evm's, as made.
    if computation._error is not None:
        state.revert(snapshot)
    else:
        state.commit(snapshot)
    return computation


def run_compiled(
    cls: Any,
    state: Any,
    message: Any,
    transaction_context: Any,
    parent_computation: Any,
    executable: Executable | None,
    *,
    lean: bool | None = None,
) -> Any:
    """``apply_computation`` of a frame whose code ``executable`` runs.

    What py-evm's ``BaseComputation.apply_computation`` does around the
    interpreter loop, in its order: the computation and its context manager,
    the frame preamble (precompiles never reach this point), the frame, and
    ``__exit__`` settling a halt.  Lean classes (:func:`runs_lean`, which
    ``lean`` gives when the caller knows it) get a computation from
    :func:`new_computation`, others their own constructor.

    For a lean class, while py-evm's computation logger does not log
    ``DEBUG2``, the context manager's methods are called only for what its
    ``__exit__`` does then: settle a ``VMError``.  Entering and leaving
    without one do nothing else.

    ``executable`` is None for a message without code: the interpreter would
    run one implicit STOP, which costs no gas and changes nothing, so the
    frame ends successfully with empty output right after its preamble.
    """
    if lean is None:
        lean = runs_lean(cls)
    if lean:
        computation = new_computation(
            cls,
            state,
            message,
            transaction_context,
            coinbase_warm=type(parent_computation) is cls,
        )
        entered = cls.logger.show_debug2
    else:
        computation = cls(state, message, transaction_context)
        entered = True
    # ``with computation:``, less the entering and leaving that do nothing.
    if entered:
        computation.__enter__()
    try:
        is_create = (
            message.to == CREATE_CONTRACT_ADDRESS if type(message) is Message else message.is_create
        )
        if (
            message.sender == computation.transaction_context.origin  # as py-evm's, made
            if lean
            else computation.is_origin_computation
        ):
            computation.contracts_created = []
            if is_create:
                cls.consume_initcode_gas_cost(computation)
        if parent_computation is not None:
            computation.contracts_created = parent_computation.contracts_created
        if is_create:
            computation.contracts_created.append(message.storage_address)
        if executable is not None:
            write_hook = cls.storage_write_hook
            keccak_hook = cls.keccak_hook
            run_frame(
                computation,
                executable,
                cls.fork.delegations,
                None if write_hook.__func__ is no_storage_write_hook else write_hook(),
                None if keccak_hook.__func__ is no_keccak_hook else keccak_hook(),
                lean=lean,
            )
    except BaseException as error:
        if entered:
            if not computation.__exit__(type(error), error, error.__traceback__):
                raise
        elif isinstance(error, VMError):
            computation.__exit__(type(error), error, error.__traceback__)
        else:
            raise
    else:
        if entered:
            computation.__exit__(None, None, None)
    return computation


def no_storage_write_hook(cls: Any) -> Callable[[bytes, int], None] | None:
    """Called with ``(address, slot)`` before each SSTORE of a compiled frame, or None.

    The default (none); compared by identity so that a class without a hook
    is not asked for one on every frame.
    """
    return None


def no_keccak_hook(cls: Any) -> Callable[[bytes, int], None] | None:
    """Called with ``(input, digest)`` after each KECCAK256 of a compiled frame, or None.

    Only code compiled to trace preimages calls it
    (:data:`~evmkiln.codegen.backend.TRACE_PREIMAGES`, a ``make_vm_class``
    option).  The default (none); compared by identity as
    :func:`no_storage_write_hook`.
    """
    return None


def run_frame(
    computation: Any,
    executable: Executable,
    delegations: bool,
    on_storage_write: Callable[[bytes, int], None] | None = None,
    on_keccak: Callable[[bytes, int], None] | None = None,
    *,
    lean: bool = False,
) -> None:
    """Run ``executable`` on ``computation``'s frame and leave its results where py-evm looks.

    ``lean``: the computation's class is exactly as ``make_vm_class`` made it
    (:func:`runs_lean`), so its gas meter and output are py-evm's own and are
    set where they are kept, without the methods' checks (which cannot fail
    here) and debug logging.

    Exceptional halts and REVERT are raised as py-evm's exceptions, worded as
    py-evm's interpreter words them, so that the computation's ``__exit__``
    settles them exactly as for interpreted code.  The gas comes from the
    computation's gas meter; a meter that keeps no count (titanoboa's
    ``NoGasMeter``) gives the frame the message's gas, and charging it is a
    no-op, as for interpreted frames.
    """
    message = computation.msg
    meter = computation._gas_meter
    # A fresh frame is not burning gas: py-evm's meter holds what it has left.
    start_gas = meter.gas_remaining if type(meter) is GasMeter else gas_remaining(computation)
    if type(message) is Message:
        calldata = message.data
        if type(calldata) is not bytes:
            calldata = bytes(calldata)
        address = message._storage_address
        if address is None:
            address = message.to
    else:
        calldata, address = message.data_as_bytes, message.storage_address
    # ``PyEvmHost(...)`` and ``Frame(...)``, made without a class call's keyword
    # dictionary: calling a class passes keywords as a dict that ``__init__`` unpacks
    # again, about half of each construction's cost; calling ``__init__`` does not.
    # While both classes are as imported: a tool's patch of either (a subclass or a
    # mock in this module's namespace, another ``__init__``) gets its class called.
    host_class = PyEvmHost
    if host_class is _HOST_CLASS and host_class.__init__ is _INIT_HOST:
        host = _new(host_class)
        _INIT_HOST(host, computation, delegations=delegations, on_storage_write=on_storage_write)
    else:
        host = host_class(computation, delegations=delegations, on_storage_write=on_storage_write)
    frame = _new(_FRAME_CLASS)
    _INIT_FRAME(
        frame,
        host=host,
        gas=start_gas,
        code=message.code,
        calldata=calldata,
        address=address,
        caller=message.sender,
        value=message.value,
        is_static=message.is_static,
        depth=message.depth,
        keep_memory=False,
        on_keccak=on_keccak,
    )
    frame_class = Frame
    if frame_class is not _FRAME_CLASS or frame_class.__init__ is not _INIT_FRAME:
        frame = frame_class(**_init_fields(frame))
    try:
        exit_kind = executable.run(frame)
    except ExceptionalHalt as halt:
        error = pyevm_error(halt, message.code, computation.opcodes)
        if is_inexact(halt, error, message.code):
            setattr(error, INEXACT, True)
        raise error from None

    used = start_gas - frame.gas
    if used < 0:  # pragma: no cover - a frame never ends with more gas than it started
        raise AssertionError(f"frame ended with {frame.gas} gas, started with {start_gas}")
    output = frame.output
    if type(output) is not bytes:
        output = bytes(output)
    if lean and type(meter) is GasMeter:
        meter.gas_remaining -= used
        if frame.refund:
            computation.refund_gas(frame.refund)
        computation._output = output
    else:
        if used:
            computation.consume_gas(used, reason="compiled code")
        if frame.refund:
            computation.refund_gas(frame.refund)
        computation.output = output
    if exit_kind == ExitKind.REVERT:
        raise Revert(output)
