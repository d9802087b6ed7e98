"""Idle contracts beyond MAX_IDLE_INSTANCES (or MAX_IDLE_MEMORY) give their stores back,
and run again afterwards."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from hostless import hostless_frame
from wasm_compare import ADDRESS, WASM, FakeHost, new_frame

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.backend import WasmBackend
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.pipeline import lower_bytecode


def _returning(value: int) -> bytes:
    return bytes.fromhex(f"60{value:02x}60005260206000f3")  # RETURN a word holding value


def empty_books(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle books of this test's own, empty (the process's are left as they are)."""
    monkeypatch.setattr(runtime, "_IDLE", runtime.OrderedDict())
    monkeypatch.setattr(runtime, "_IDLE_INSTANCES", [0])
    monkeypatch.setattr(runtime, "_IDLE_MEMORY", [0])


def _run(executable: object, code: bytes) -> bytes:
    frame = hostless_frame(code, gas=100_000_000)
    assert executable.run(frame) is ExitKind.RETURN  # type: ignore[attr-defined]
    return frame.output


def test_least_recently_used_stores_are_dropped_and_rebuilt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "MAX_IDLE_INSTANCES", 3)
    empty_books(monkeypatch)
    backend = WasmBackend()
    codes = [_returning(i) for i in range(6)]
    executables = [backend.compile(lower_bytecode(code)) for code in codes]
    for i, (executable, code) in enumerate(zip(executables, codes, strict=True)):
        assert _run(executable, code) == i.to_bytes(32, "big")
    contracts = [e.contract for e in executables]  # type: ignore[attr-defined]
    assert [c.store is not None for c in contracts] == [False] * 3 + [True] * 3
    assert len(runtime._IDLE) == 3
    # A dropped contract runs again on a fresh store, and pushes out the stalest.
    assert _run(executables[0], codes[0]) == bytes(32)
    assert contracts[0].store is not None and contracts[3].store is None
    assert len(runtime._IDLE) == 3 and runtime._IDLE_INSTANCES == [3]


def test_a_store_grown_by_deep_recursion_is_dropped_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty_books(monkeypatch)
    code = _returning(7)
    executable = WasmBackend().compile(lower_bytecode(code))
    contract = executable.contract  # type: ignore[attr-defined]
    assert _run(executable, code) == (7).to_bytes(32, "big")
    assert contract.store is not None and runtime._IDLE_INSTANCES == [1]
    # What 1024 nested frames of one contract leave behind: many instances in one store.
    contract._free.extend(contract._new_slot() for _ in range(runtime.MAX_IDLE_STORE_INSTANCES))
    assert _run(executable, code) == (7).to_bytes(32, "big")
    assert contract.store is None and runtime._IDLE_INSTANCES == [0] and not runtime._IDLE
    assert _run(executable, code) == (7).to_bytes(32, "big")  # and it runs again


def test_stores_holding_large_memories_are_dropped_beyond_the_memory_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "MAX_IDLE_MEMORY", 8 << 20)
    empty_books(monkeypatch)
    backend = WasmBackend()
    small = _returning(1)
    # MSTORE(4 MiB, 9) then the word at 0: its memory grows past 4 MiB and stays so.
    large = bytes.fromhex("6009" "62400000" "52") + small  # fmt: skip
    small_exe, large_exe = (backend.compile(lower_bytecode(code)) for code in (small, large))
    assert _run(small_exe, small) == (1).to_bytes(32, "big")
    assert _run(large_exe, large) == (1).to_bytes(32, "big")
    held = runtime._IDLE_MEMORY[0]
    assert 4 << 20 < held <= 8 << 20 and len(runtime._IDLE) == 2
    # A second large memory exceeds the budget: the least recently used store goes.
    other = bytes.fromhex("6009" "62400000" "52") + _returning(2)  # fmt: skip
    other_exe = backend.compile(lower_bytecode(other))
    assert _run(other_exe, other) == (2).to_bytes(32, "big")
    contracts = [e.contract for e in (small_exe, large_exe, other_exe)]  # type: ignore[attr-defined]
    assert [c.store is not None for c in contracts] == [False, False, True]
    assert runtime._IDLE_MEMORY[0] == sum(s.pages for s in contracts[2]._free) * runtime.PAGE
    assert _run(large_exe, large) == (1).to_bytes(32, "big")  # runs again on a new store


def test_a_contract_run_again_and_again_nested_is_made_idle_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A callee run three times under one caller enters the idle books when the
    caller's run ends, once, with every count right."""
    empty_books(monkeypatch)
    made_idle: list[object] = []
    become_idle = runtime.CompiledContract._become_idle

    def counted(contract: runtime.CompiledContract) -> None:
        made_idle.append(contract)
        become_idle(contract)

    monkeypatch.setattr(runtime.CompiledContract, "_become_idle", counted)
    callee = _returning(7)
    call = "5f5f5f5f5f73" + ADDRESS.hex() + "5af150"  # CALL(gas, ADDRESS, 0, 0, 0, 0, 0); POP
    caller = bytes.fromhex(call * 3 + "00")
    host = FakeHost(WASM, codes={ADDRESS: callee})
    executable = WASM.compile(lower_bytecode(caller))
    assert executable.run(new_frame(host, caller, 1_000_000)) is ExitKind.STOP
    contracts = [executable.contract, host.compiled[callee].contract]  # type: ignore[attr-defined]
    assert sorted(map(id, made_idle)) == sorted(map(id, contracts))
    assert not runtime._THREAD.unsettled and not runtime._THREAD.active
    assert set(runtime._IDLE) == set(map(id, contracts))
    instances, memory = runtime._IDLE_INSTANCES[0], runtime._IDLE_MEMORY[0]
    assert instances == sum(c._live for c in contracts)
    assert memory == sum(s.pages for c in contracts for s in c._free) * runtime.PAGE


def test_the_idle_caps_hold_within_a_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller that calls forty contracts: the ones whose runs ended wait for the
    outermost run to be made idle only UNSETTLED_LIMIT at a time, so the idle books
    never hold more than the cap plus those."""
    monkeypatch.setattr(runtime, "MAX_IDLE_INSTANCES", 4)
    empty_books(monkeypatch)
    callees = {bytes([0x10 + i]) * 20: _returning(i) for i in range(40)}
    alive: list[int] = []
    phantoms: list[object] = []

    class Watching(FakeHost):
        def call(self, **kw: object) -> object:
            result = super().call(**kw)
            stores = [e.contract for e in self.compiled.values()]  # type: ignore[attr-defined]
            alive.append(sum(1 for c in stores if c.store is not None and not c._running))
            phantoms.extend(c for c in runtime._IDLE.values() if c.store is None)
            return result

    caller = bytes.fromhex(
        "".join("5f5f5f5f5f73" + address.hex() + "5af150" for address in callees) + "00"
    )
    host = Watching(WASM, codes=callees)
    executable = WASM.compile(lower_bytecode(caller))
    assert executable.run(new_frame(host, caller, 10_000_000)) is ExitKind.STOP
    assert len(alive) == 40
    assert max(alive) <= runtime.MAX_IDLE_INSTANCES + runtime.UNSETTLED_LIMIT + 1
    assert len(runtime._IDLE) <= runtime.MAX_IDLE_INSTANCES
    # Only contracts with a store are in the books: one dropped is not put back.
    assert not phantoms
    assert all(contract.store is not None for contract in runtime._IDLE.values())


def test_a_run_that_grows_its_memory_is_counted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A contract stays in the idle books while it runs; a run that grew an
    instance's memory has it counted again when the run ends."""
    empty_books(monkeypatch)
    # MSTORE(the call data's first word, 9), then RETURN a word.
    code = bytes.fromhex("6009" "600035" "52") + _returning(1)  # fmt: skip
    executable = WasmBackend().compile(lower_bytecode(code))
    contract = executable.contract  # type: ignore[attr-defined]

    def run(offset: int) -> int:
        frame = hostless_frame(code, gas=100_000_000, calldata=offset.to_bytes(32, "big"))
        assert executable.run(frame) is ExitKind.RETURN
        assert list(runtime._IDLE.values()) == [contract]
        held = sum(slot.pages for slot in contract._free) * runtime.PAGE
        assert runtime._IDLE_MEMORY[0] == held and runtime._IDLE_INSTANCES[0] == 1
        return held

    small = run(0)
    assert run(64) == small  # ran from the books, nothing grew
    assert run(4 << 20) > 4 << 20 > small


def test_a_contract_running_from_the_books_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller in the idle books runs again under a cap of no idle instances: the
    evictions its callees' ends set off drop every store but its own, which goes
    once its run has ended."""
    empty_books(monkeypatch)
    callees = {bytes([0x40 + i]) * 20: _returning(i) for i in range(runtime.UNSETTLED_LIMIT + 4)}
    kept_store: list[bool] = []

    class Watching(FakeHost):
        def call(self, **kw: object) -> object:
            result = super().call(**kw)
            kept_store.append(contract.store is not None and id(contract) in runtime._IDLE)
            return result

    caller = bytes.fromhex(
        "".join("5f5f5f5f5f73" + address.hex() + "5af150" for address in callees) + "00"
    )
    host = Watching(WASM, codes=callees)
    executable = WASM.compile(lower_bytecode(caller))
    contract = executable.contract  # type: ignore[attr-defined]
    assert executable.run(new_frame(host, caller, 10_000_000)) is ExitKind.STOP
    assert id(contract) in runtime._IDLE
    kept_store.clear()
    monkeypatch.setattr(runtime, "MAX_IDLE_INSTANCES", 0)
    drops = [0]
    drop_store = runtime.CompiledContract._drop_store

    def bounded(idle: runtime.CompiledContract) -> None:
        drops[0] += 1
        assert drops[0] < 1_000, "the eviction keeps asking a running contract to go"
        drop_store(idle)

    monkeypatch.setattr(runtime.CompiledContract, "_drop_store", bounded)
    assert executable.run(new_frame(host, caller, 10_000_000)) is ExitKind.STOP
    assert kept_store == [True] * len(callees)
    assert not runtime._IDLE and runtime._IDLE_INSTANCES == [0] and contract.store is None
    assert executable.run(new_frame(host, caller, 10_000_000)) is ExitKind.STOP  # runs again


def test_an_instance_that_cannot_be_mapped_is_a_memory_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of address space when making an instance (deep recursion under ``ulimit -v``):
    a WasmMemoryError, never an EVM outcome, and the books count only real instances."""
    empty_books(monkeypatch)
    code = _returning(3)
    executable = WasmBackend().compile(lower_bytecode(code))
    contract = executable.contract  # type: ignore[attr-defined]
    instance = runtime.wasmtime.Instance

    def unmappable(*args: object) -> object:
        raise runtime.wasmtime.WasmtimeError("mmap failed to reserve 0x90000 bytes")

    with monkeypatch.context() as patch:
        patch.setattr(runtime.wasmtime, "Instance", unmappable)
        with pytest.raises(runtime.WasmMemoryError, match=r"cannot make a wasm instance.*mmap"):
            _run(executable, code)
    assert contract._live == 0 and not contract._running
    assert runtime.wasmtime.Instance is instance
    assert _run(executable, code) == (3).to_bytes(32, "big")  # room again: it runs
    assert contract._live == 1 and runtime._IDLE_INSTANCES[0] == 1


def test_threads_running_contracts_keep_the_books_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three threads, each a caller of eight callees, under a cap of two idle instances
    and a switch interval short enough to interleave every step: no run fails, and the
    books' totals are the sums of what their contracts counted."""
    empty_books(monkeypatch)
    monkeypatch.setattr(runtime, "MAX_IDLE_INSTANCES", 2)
    errors: list[BaseException] = []
    runs = [0]
    deadline = time.monotonic() + 3.0

    def worker(tag: int) -> None:
        callees = {bytes([tag, i]) * 10: _returning(i) for i in range(8)}
        caller = bytes.fromhex(
            "".join("5f5f5f5f5f73" + address.hex() + "5af150" for address in callees) + "00"
        )
        host = FakeHost(WASM, codes=callees)
        executable = WASM.compile(lower_bytecode(caller))
        try:
            while time.monotonic() < deadline and not errors:
                assert executable.run(new_frame(host, caller, 10_000_000)) is ExitKind.STOP
                runs[0] += 1
        except BaseException as error:  # reported by the test's thread
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(tag,)) for tag in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
    assert runs[0] > 3
    booked = list(runtime._IDLE.values())
    assert runtime._IDLE_INSTANCES[0] == sum(contract._counted for contract in booked)
    assert runtime._IDLE_MEMORY[0] == sum(contract._counted_memory for contract in booked)
    assert all(contract.store is not None and not contract._running for contract in booked)
