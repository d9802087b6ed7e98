"""The engines a bench fixture runs on, behind one small interface.

Every engine runs the transaction on a *fresh* copy of the pre-state each
time, so repeats are identical; only the transaction itself is timed.  What
persists between repeats is what a long-running node would keep: evmkiln's
compiled code (one VM class per fixture and backend, hence one code cache).

* ``pyevm``: stock py-evm ``CancunVM``, the reference for every comparison.
* ``revm``: revm through ``pyrevm`` (untyped; ``Any`` at this boundary).
* evmkiln backends (``ir``, ``llvm``, ``wasm``): ``make_vm_class`` with a
  timed lowering and backend (see :mod:`evmkiln.bench.compile_timing`).
"""

from __future__ import annotations

import functools
import importlib
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from evmkiln.bench.case import BenchCase
from evmkiln.bench.compile_timing import CompileLog, TimedBackend
from evmkiln.bench.execution_clock import EXECUTION, ExecutionClock, with_execution_clock
from evmkiln.bench.observation import HALT, REJECTED, REVERT, SUCCESS, Observation
from evmkiln.statetest.backends import ArtifactsSetting
from evmkiln.statetest.execution import LogEntry, Outcome, apply_transaction

PYEVM = "pyevm"
PYEVM_FLAT = "pyevm-flat"
"""py-evm's interpreter on evmkiln's flat state: what the state alone gains."""
REVM = "revm"


class EngineUnsupported(Exception):
    """The engine cannot run this fixture (e.g. a transaction form pyrevm cannot express)."""


class Runner(Protocol):
    """One engine prepared for one fixture."""

    compile_log: CompileLog | None

    def run(self) -> tuple[Observation, float]:
        """Set up a fresh pre-state, apply the transaction; return what it did and its seconds."""
        ...

    def notes(self) -> list[str]:
        """Anything that makes the timing unrepresentative (code left to the interpreter, ...)."""
        ...

    def settle(self) -> None:
        """After the warm-up: let background work the warm-up started finish (tier-ups)."""
        ...


class Engine(Protocol):
    name: str
    timing: str
    """``execution`` (the message alone) or ``transaction`` (``apply_transaction``)."""

    def prepare(self, case: BenchCase) -> Runner: ...


def observation_of(outcome: Outcome) -> Observation:
    if outcome.rejected is not None:
        kind, detail = REJECTED, outcome.rejected
    elif outcome.success:
        kind, detail = SUCCESS, None
    elif outcome.error == "Revert":
        kind, detail = REVERT, None
    else:
        kind, detail = HALT, outcome.error
    return Observation(
        outcome=kind,
        detail=detail,
        gas_used=outcome.gas_used,
        output=outcome.output,
        logs=outcome.logs,
        state_root=outcome.state_root,
    )


SETTLE_RUNS = 256
"""Most runs a tiered engine gets to reach its steady state before it is timed."""


@dataclass(slots=True)
class PyEvmRunner:
    """Runs through a py-evm VM class: stock, or an evmkiln dispatching subclass.

    With a clock the time reported is the message's execution alone (see
    :mod:`evmkiln.bench.execution_clock`); without, the whole transaction's.
    """

    vm_class: type[Any]
    case: BenchCase
    compile_log: CompileLog | None = None
    clock: ExecutionClock | None = None
    backend: Any = None
    """The evmkiln backend, for its background tier-ups (``wait_for_tier_ups``)."""

    @classmethod
    def timed(
        cls,
        vm_class: type[Any],
        case: BenchCase,
        timing: str,
        log: CompileLog | None = None,
        backend: Any = None,
    ) -> PyEvmRunner:
        if timing != EXECUTION:
            return cls(vm_class, case, log, backend=backend)
        timed_class, clock = with_execution_clock(vm_class)
        return cls(timed_class, case, log, clock, backend)

    def settle(self) -> None:
        cache = getattr(self.vm_class, "code_cache", None)
        if callable(getattr(cache, "wait_idle", None)):
            self._settle_tiers(cache)
        wait = getattr(self.backend, "wait_for_tier_ups", None)
        if callable(wait):
            wait()

    def _settle_tiers(self, cache: Any) -> None:
        """With a tiered runtime: run until every code is on the highest tier it can reach.

        Each run makes code hotter; waiting for its compiles and running again
        reaches the tiers a long-running process would be on (at most
        :data:`SETTLE_RUNS` runs).
        """
        for _ in range(SETTLE_RUNS):
            cache.wait_idle(None)
            if cache.settled():
                break
            self.run()
        cache.wait_idle(None)
        # One run on the settled tiers, as blocking mode's first run on its compiled
        # code: a long one queues the backend's own tier-up (LLVM's optimising code
        # generator for large functions), which ``settle`` then waits for.
        self.run()

    def _tier_up_notes(self) -> list[str]:
        queue = getattr(self.backend, "tier_ups", None)
        if queue is None or self.compile_log is None:
            return []
        names = {c.function for c in self.compile_log.contracts}
        notes = []
        for record in queue.records:
            if record.name in names:
                outcome = "failed: " + record.error if record.error else "optimised"
                notes.append(f"{record.name} {outcome} in the background ({record.seconds:.2f} s)")
        return notes

    def run(self) -> tuple[Observation, float]:
        outcome = apply_transaction(self.vm_class, self.case.env, self.case.pre, self.case.spec)
        if self.clock is not None and outcome.rejected is None:
            return observation_of(outcome), self.clock.last
        return observation_of(outcome), outcome.seconds

    def notes(self) -> list[str]:
        notes = self._tier_up_notes()
        stats = getattr(self.vm_class, "stats", None)
        if stats is None or not stats.compile_failures:
            return notes
        reasons = sorted(set(stats.failures.values()))
        failed = f"{stats.compile_failures} contract(s) interpreted, compile failed: {reasons[0]}"
        return [*notes, failed]


class PyEvmEngine:
    """py-evm's interpreter, nothing compiled: stock, or on evmkiln's flat state (``flat``)."""

    def __init__(self, timing: str = EXECUTION, *, flat: bool = False) -> None:
        self.timing = timing
        self.flat = flat
        self.name = PYEVM_FLAT if flat else PYEVM

    def prepare(self, case: BenchCase) -> Runner:
        from evmkiln.forks import fork_spec

        stock = fork_spec(case.fork).vm_class
        if not self.flat:
            return PyEvmRunner.timed(stock, case, self.timing)
        from evmkiln.context.state_class import with_flat_state

        # A fresh VM class per fixture, as for the evmkiln backends (fresh state layers).
        return PyEvmRunner.timed(with_flat_state(stock), case, self.timing)


class KilnEngine:
    """An evmkiln backend; a fresh VM class (fresh code cache) per fixture.

    With ``artifacts``, contracts that have one are loaded from it (lazily, at
    their first frame, timed in the compile log) instead of compiled.
    """

    def __init__(
        self,
        backend: str,
        timing: str = EXECUTION,
        artifacts: ArtifactsSetting | None = None,
        compile_samples: int = 1,
        runtime: Any = None,
    ) -> None:
        """``runtime``: a :class:`~evmkiln.context.runtime.RuntimePolicy` (``None``: blocking).
        With one, compiles are the runtime's, in the background: none is timed here."""
        self.name = backend
        self.timing = timing
        self.artifacts = artifacts
        self.compile_samples = compile_samples
        self.runtime = runtime

    def prepare(self, case: BenchCase) -> Runner:
        from evmkiln.context import get_backend, make_vm_class

        if self.runtime is not None:
            tiered = make_vm_class(
                self.name,
                case.fork,
                runtime=self.runtime,
                persistent_cache=False,
                **self._aot(None),
            )
            backend = getattr(tiered, "backend", None)
            return PyEvmRunner.timed(tiered, case, self.timing, None, backend)
        log = CompileLog(samples=self.compile_samples)
        raw = get_backend(self.name)
        _warm_up(raw)
        backend = TimedBackend(raw, log, fresh=lambda: get_backend(self.name))
        # A benchmark must measure compiled code: a compile failure is an error here,
        # never a silent run on py-evm's interpreter.
        aot = self._aot(log)
        vm_class = make_vm_class(
            backend,
            case.fork,
            lower=functools.partial(log.timed_lowering, fork=case.fork),
            interpret_on_compile_error=False,
            persistent_cache=False,
            **aot,
        )
        if self.artifacts is not None:
            log.dispatch = vm_class.stats  # type: ignore[attr-defined]
        return PyEvmRunner.timed(vm_class, case, self.timing, log, raw)

    def _aot(self, log: CompileLog | None) -> dict[str, Any]:
        if self.artifacts is None:
            return {}
        aot: dict[str, Any] = {
            "artifacts": self.artifacts.directory,
            "preload": False,
            "strict_aot": self.artifacts.strict,
        }
        if log is not None:
            aot["on_artifact_load"] = log.record_load
        return aot


_WARMED: set[str] = set()


def _warm_up(backend: Any) -> None:
    """Once per process and backend, before any compile is timed.

    A backend may offer ``warm_up()`` to pay one-time set-up (LLVM's target,
    Cranelift's engines); without it that cost would be charged to whichever
    fixture's contract happens to be compiled first.
    """
    warm = getattr(backend, "warm_up", None)
    if callable(warm) and backend.name not in _WARMED:
        warm()
        _WARMED.add(backend.name)


_OUTPUT_IN_REVERT = re.compile(r"output:\s*0x([0-9a-fA-F]*)")


def _hex_address(address: bytes) -> str:
    return "0x" + address.hex()


def _sender(case: BenchCase) -> bytes:
    if case.spec.sender is not None:
        return case.spec.sender
    if case.spec.secret_key is None:  # the fixture model guarantees one of the two
        raise EngineUnsupported("transaction has neither sender nor secret key")
    from eth_keys.datatypes import PrivateKey

    address: bytes = PrivateKey(case.spec.secret_key).public_key.to_canonical_address()
    return address


@dataclass(slots=True)
class RevmRunner:
    """pyrevm's ``message_call``: a transaction from ``sender`` with the fixture's gas and value.

    ``ExecutionResult.gas_used`` already holds what a receipt does: intrinsic
    gas included, the (EIP-3529-capped) refund subtracted, so it compares
    directly with py-evm's receipt.  A revert or halt surfaces as a
    ``RuntimeError`` whose text carries the revert output; ``evm.result`` is
    set either way.  Storage is inserted slot by slot so that it is cold and
    original, as in the other engines (see ``_fresh_evm``).
    """

    case: BenchCase
    compile_log: CompileLog | None = None

    def _fresh_evm(self) -> Any:
        pyrevm: Any = importlib.import_module("pyrevm")  # its stubs lag the runtime API

        from evmkiln.statetest.transactions import CHAIN_ID

        env = self.case.env
        # PREVRANDAO as statetest.chain.build_header sets the header's mix hash.
        mix_hash = env.random if env.random is not None else env.difficulty.to_bytes(32, "big")
        block = pyrevm.BlockEnv(
            number=env.number,
            coinbase=_hex_address(env.coinbase),
            timestamp=env.timestamp,
            prevrandao=mix_hash,
            basefee=env.base_fee,
            gas_limit=env.gas_limit,
            excess_blob_gas=env.excess_blob_gas,
        )
        evm = pyrevm.EVM(
            # Cancun's rules whatever the case's fork: the rules of pyrevm's revm (8.0) for
            # later forks predate their final specs (see session.run_fixture).
            env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=CHAIN_ID), block=block),
            spec_id="CANCUN",
        )
        for address, account in self.case.pre.items():
            evm.insert_account_info(
                _hex_address(address),
                pyrevm.AccountInfo(
                    balance=account.balance, nonce=account.nonce, code=account.code or None
                ),
            )
            for slot, value in account.storage.items():
                # pyrevm 0.3.7 writes a slot to the database only when the account is
                # not yet loaded in its journal; later slots land in the journal, where
                # they count as warm and have original value 0 (wrong SLOAD/SSTORE gas).
                # Inserting each slot inside a reverted snapshot sends every one to the
                # database, as genuine pre-state.
                checkpoint = evm.snapshot()
                evm.insert_account_storage(_hex_address(address), slot, value)
                evm.revert(checkpoint)
        return evm

    def run(self) -> tuple[Observation, float]:
        spec = self.case.spec
        if spec.to is None:
            raise EngineUnsupported("contract creation is not benchmarked on revm")
        if spec.access_list or spec.blob_versioned_hashes:
            raise EngineUnsupported("pyrevm's message_call takes no access list or blobs")
        gas_price = spec.gas_price if spec.gas_price is not None else spec.max_fee_per_gas
        evm = self._fresh_evm()
        sender = _hex_address(_sender(self.case))
        start = time.perf_counter()
        failure: str | None = None
        try:
            output = bytes(
                evm.message_call(
                    sender,
                    _hex_address(spec.to),
                    calldata=spec.data,
                    value=spec.value,
                    gas=spec.gas_limit,
                    gas_price=gas_price,
                )
            )
        except RuntimeError as exc:
            failure = str(exc)
            output = b""
        seconds = time.perf_counter() - start
        return self._observe(evm.result, output, failure), seconds

    @staticmethod
    def _observe(result: Any, output: bytes, failure: str | None) -> Observation:
        if result is None:  # refused before execution (validation error)
            return Observation(REJECTED, failure, 0, b"", (), None)
        if result.is_success:
            kind, detail = SUCCESS, None
        elif result.is_halt:
            kind, detail = HALT, str(result.reason)
        else:
            kind, detail = REVERT, None
            found = _OUTPUT_IN_REVERT.search(failure or "")
            output = bytes.fromhex(found.group(1)) if found else b""
        logs = tuple(
            LogEntry(
                address=bytes.fromhex(str(log.address)[2:]),
                topics=tuple(int(str(topic), 16) for topic in log.topics),
                data=bytes(log.data[1]),  # pyrevm gives (topics, data)
            )
            for log in result.logs
        )
        return Observation(kind, detail, int(result.gas_used), output, logs, None)

    def settle(self) -> None:
        """revm has nothing running in the background."""

    def notes(self) -> list[str]:
        return []


class RevmEngine:
    """revm, timed around ``message_call`` whatever the timing (it has nothing finer)."""

    name = REVM

    def __init__(self, timing: str = EXECUTION) -> None:
        self.timing = timing

    def prepare(self, case: BenchCase) -> Runner:
        return RevmRunner(case)
