"""titanoboa on evmkiln: ``enable()`` puts an environment's VM on compiled code.

::

    import boa
    from evmkiln.integrations import boa as kiln_boa

    kiln_boa.enable()          # boa.env now runs frames compiled (llvm, boa's fork)
    counter = boa.loads(source)

How it fits titanoboa.  titanoboa builds its computation class by subclassing
whatever computation class the VM's state carries, and patches opcodes of that
class for its tracers (``boa/vm/py_evm.py``).  ``enable`` hands titanoboa a VM
whose state carries evmkiln's computation class and lets titanoboa's own VM
set-up (``PyEVM._init_vm``) build on it, so every frame -- compiled or not --
is an instance of titanoboa's class, with its gas meter, precompiles and
contract registry.  The state (accounts, code, storage, block values patched
through ``boa.env.evm.patch``) is carried over to the new VM: contracts
deployed before ``enable`` keep working.

What a compiled frame cannot show titanoboa, and what is done about it:

- SSTORE tracing (``env.sstore_trace``, for storage dumps): reproduced -- the
  compiled frame reports each slot it writes;
- KECCAK256 preimages (``env.sha3_trace``, to name hash-map keys in storage
  dumps): reproduced -- code is compiled to trace them (each KECCAK256 runs
  through the host's builtin, which reports the 64-byte inputs titanoboa's
  tracer records).  ``trace_preimages=False`` keeps hashing native, a little
  faster, and ``contract._storage`` then lists a hash-map entry written by
  compiled code under its hashed slot only;
- the program-counter trace, from which titanoboa builds revert reasons,
  source-level stack traces and ``boa.reverts(dev=...)``: a top-level call
  that fails after running compiled code is run again on the interpreter
  from the same state (its first outcome is dropped), so errors come with
  titanoboa's full trace and successful calls run compiled;
- ``patch_opcode`` (for frames whose code holds a patched opcode's byte),
  gas profiling (a gas meter with ``_set_code``), coverage (line or branch):
  frames run on the interpreter while any is active.

Each interpreted frame is counted by reason in ``vm_class.stats.interpreted_for``
(``enable`` returns the VM class).  ``disable`` puts the environment back on
stock py-evm, state included.
"""

from __future__ import annotations

from typing import Any, ClassVar

try:
    import boa
    from boa.vm import py_evm as boa_py_evm
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("evmkiln.integrations.boa needs titanoboa: pip install titanoboa") from error

from eth.chains.base import Chain
from eth.vm.forks.cancun import CancunVM

from evmkiln.codegen.backend import TRACE_PREIMAGES
from evmkiln.context import make_vm_class
from evmkiln.context.vm import CompiledFrames
from evmkiln.forks import fork_spec
from evmkiln.forks.opcode_table import own_table
from evmkiln.integrations import backend_from_environment, runtime_options

REPLAY_REASON = "replaying a failed call on the interpreter for titanoboa's trace"
_NEWEST_FIRST = ("osaka", "prague", "cancun")


def _tolerated() -> tuple[type, ...]:
    """titanoboa's always-on tracers that compiled frames may run under.

    The SSTORE tracer's record is reproduced (:meth:`BoaFrames.storage_write_hook`),
    and so is the KECCAK256 preimage tracer's by code compiled to trace
    preimages (:meth:`BoaFrames.keccak_hook`); without that it is left out.
    """
    names = ["SstoreTracer", "Sha3PreimageTracer"]
    return tuple(getattr(boa_py_evm, name) for name in names if hasattr(boa_py_evm, name))


def _coverage_on(env: Any) -> bool:
    """Whether titanoboa traces the pcs of every computation for coverage.py.

    Released titanoboa (0.2.x) says so with the class flag ``Env._coverage_enabled``,
    which its coverage plugin sets; later versions keep a coverage object in
    ``env._coverage``.  Either way the pc trace is read from every computation's
    code after the call, and compiled frames record none.
    """
    return bool(getattr(env, "_coverage_enabled", False)) or (
        getattr(env, "_coverage", None) is not None
    )


class BoaFrames(CompiledFrames):
    """evmkiln's frames as titanoboa needs them; titanoboa's computation class subclasses this.

    ``env`` and ``_gas_meter_class`` come from titanoboa's subclass.
    """

    env: ClassVar[Any]
    _gas_meter_class: ClassVar[Any]
    _replaying: ClassVar[bool] = False

    @classmethod
    def interpret_reason(cls, message: Any) -> str | None:
        if cls._replaying:
            return REPLAY_REASON
        overrides = boa_py_evm._opcode_overrides
        # titanoboa itself patches 0xA6 (its breakpoint); only opcodes the code holds matter.
        if overrides and any(bytes((op,)) in message.code for op in overrides):
            return "titanoboa patch_opcode"
        if hasattr(cls._gas_meter_class, "_set_code"):
            return "titanoboa gas profiling (per-pc gas)"
        if _coverage_on(cls.env):
            return "titanoboa coverage"
        return super().interpret_reason(message)

    @classmethod
    def storage_write_hook(cls) -> Any:
        env = cls.env
        address_type = boa_py_evm.Address

        def record(address: bytes, slot: int) -> None:
            # What titanoboa's SstoreTracer records for an interpreted SSTORE.
            env.sstore_trace.setdefault(address_type(address), set()).add(slot)

        return record

    @classmethod
    def keccak_hook(cls) -> Any:
        sha3_trace = cls.env.sha3_trace

        def record(data: bytes, digest: int) -> None:
            # What titanoboa's Sha3PreimageTracer records: 64-byte inputs (hash-map keys).
            if len(data) == 64:
                sha3_trace[digest.to_bytes(32, "big")] = data

        return record

    @classmethod
    def apply_message(
        cls,
        state: Any,
        message: Any,
        transaction_context: Any,
        parent_computation: Any = None,
    ) -> Any:
        """A failed top-level call that ran compiled frames runs again, interpreted."""
        if parent_computation is not None or cls._replaying:
            return super().apply_message(state, message, transaction_context, parent_computation)
        snapshot = state.snapshot()
        compiled_before = cls.stats.frames_run_compiled
        computation = super().apply_message(state, message, transaction_context)
        if not computation.is_error or cls.stats.frames_run_compiled == compiled_before:
            state.commit(snapshot)
            return computation
        state.revert(snapshot)
        cls._replaying = True
        try:
            return super().apply_message(state, message, transaction_context)
        finally:
            cls._replaying = False


def _fork_of(vm: Any) -> str:
    # py-evm's own fork name first: titanoboa's stock PragueVM is no instance of
    # evmkiln's Prague class (py-evm's with native BLS precompiles), only of Cancun's.
    name = str(getattr(vm, "fork", "")).lower()
    if name in _NEWEST_FIRST:
        return name
    for name in _NEWEST_FIRST:
        if isinstance(vm, fork_spec(name).vm_class):
            return name
    raise ValueError(f"titanoboa runs {type(vm).__name__}; evmkiln runs {_NEWEST_FIRST}")


def _boa_vm_class(vm_class: type[CancunVM]) -> type[CancunVM]:
    """``vm_class`` with :class:`BoaFrames` in its computation class and its own opcode table.

    titanoboa patches the table of the class it subclasses in place; an own
    copy, cleared of tracers an earlier environment left in py-evm's shared
    table, keeps those patches to this VM.
    """
    kiln_state = vm_class.get_state_class()
    kiln_computation: Any = kiln_state.computation_class
    opcodes = own_table(kiln_computation.opcodes)
    computation = type(
        kiln_computation.__name__,
        (BoaFrames, kiln_computation),
        {
            "opcodes": opcodes,
            "tolerated_opcodes": _tolerated(),
            # BoaFrames.apply_message replays a failed top-level call whole on the
            # interpreter; replaying its top frame first would only add a run.
            "replays_inexact_halts": False,
        },
    )
    state = type(kiln_state.__name__, (kiln_state,), {"computation_class": computation})
    boa_vm: type[CancunVM] = type(vm_class.__name__, (vm_class,), {"_state_class": state})
    return boa_vm


def _move_to(env: Any, vm_class: type[Any]) -> None:
    """Rebuild ``env``'s VM as ``vm_class`` through titanoboa's own set-up, keeping the state."""
    evm = env.evm
    old_state = evm.vm.state
    chain_class: Any = type(evm.chain).configure(
        __name__=f"{type(evm.chain).__name__}On{vm_class.__name__}",
        vm_configuration=((0, vm_class),),
    )
    evm.chain.__class__ = chain_class
    assert issubclass(chain_class, Chain)
    evm._init_vm(type(old_state._account_db))
    state = evm.vm.state
    state._account_db = old_state._account_db
    state.execution_context = old_state.execution_context
    # The patcher holds the execution context it was built with.
    evm.patch = boa_py_evm.VMPatcher(evm.vm)


def enable(
    backend: str | None = None,
    fork: str | None = None,
    *,
    env: Any = None,
    trace_preimages: bool = True,
    **options: Any,
) -> type[CancunVM]:
    """Run ``env`` (default: ``boa.env``) on evmkiln; return the VM class (``.stats``).

    ``backend`` defaults to ``$EVMKILN_BACKEND``, then ``"llvm"``; ``fork`` to
    the fork titanoboa's VM already runs (Prague for titanoboa 0.2).
    ``trace_preimages`` compiles KECCAK256 to report its inputs to titanoboa's
    ``env.sha3_trace``, as its interpreter tracer does (off: native hashing,
    and storage dumps do not name the hash-map keys compiled code wrote).
    ``options`` go to :func:`~evmkiln.context.make_vm_class`.
    """
    env = boa.env if env is None else env
    fork = fork or _fork_of(env.evm.vm)
    options = {**options, TRACE_PREIMAGES: trace_preimages} if trace_preimages else options
    vm_class = make_vm_class(backend_from_environment(backend), fork, **runtime_options(options))
    boa_vm = _boa_vm_class(vm_class)
    _move_to(env, boa_vm)
    return boa_vm


def is_enabled(env: Any = None) -> bool:
    """Whether ``env`` (default: ``boa.env``) runs on evmkiln."""
    env = boa.env if env is None else env
    computation_class = env.evm.vm.state.computation_class
    return isinstance(computation_class, type) and issubclass(computation_class, BoaFrames)


def fork_of(env: Any = None) -> str:
    """The fork ``env``'s VM runs (default: ``boa.env``'s)."""
    env = boa.env if env is None else env
    return _fork_of(env.evm.vm)


def move_to(vm_class: type[Any], *, env: Any = None) -> None:
    """Run ``env`` (default: ``boa.env``) on ``vm_class``, a class :func:`enable` returned.

    For putting several environments on one VM class, and so one code cache:
    a test suite's environments meet the same contracts over and over.
    """
    env = boa.env if env is None else env
    if not issubclass(vm_class.get_state_class().computation_class, BoaFrames):
        raise ValueError(f"{vm_class.__name__} is not a VM class enable() made")
    _move_to(env, vm_class)


def disable(*, env: Any = None) -> None:
    """Put ``env`` (default: ``boa.env``) back on py-evm's interpreter, state included.

    That is the fork's class from :mod:`evmkiln.forks`: for Prague, py-evm's with
    native BLS12-381 precompiles.
    """
    env = boa.env if env is None else env
    if not is_enabled(env):
        return
    _move_to(env, fork_spec(_fork_of(env.evm.vm)).vm_class)
