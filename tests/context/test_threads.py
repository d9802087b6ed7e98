"""Several threads running compiled code in one process, each on its own chain.

Each test forces the interleaving that once went wrong with hooks on the
host (no timing luck): a thread stops inside a crossing into the host while
another runs the same contract, or reads state while a block's layer is
flattened.  Compiled frames give up the interpreter lock in every crossing
that runs Python, and the wasm backend's calls give it up for the whole
native run, so another thread may run in between.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.context import make_vm_class
from evmkiln.context.state_layers import StateLayer
from evmkiln.fuzz.asm import asm
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

X = CONTRACT_B
X_READS = asm(0, "SLOAD", 1, "ADD", 0, "MSTORE", 32, 0, "RETURN")
"""RETURN SLOAD(0) + 1."""
X_WRITES = asm(0, "SLOAD", 1, "ADD", "DUP1", 0, "SSTORE", 0, "MSTORE", 32, 0, "RETURN")
"""SSTORE(0, SLOAD(0) + 1) and RETURN it."""


def caller_of(times: int) -> bytes:
    """CALL X ``times`` times (a nested frame keeps its table for the next), RETURN the
    last call's output."""
    call = (32, 0, 0, 0, 0, int.from_bytes(X, "big"), "GAS", "CALL", "POP")
    return asm(*(call * times), 32, 0, "RETURN")


def in_two_threads(
    vm_a: Any, vm_b: Any, codes: dict[bytes, bytes], *, b_starts: threading.Event
) -> dict[str, Any]:
    """Run the same transaction on ``vm_a`` in thread A and on ``vm_b`` in thread B,
    B once ``b_starts`` is set; each thread's result or exception, by name."""
    storage = {X: {0: 41}}
    results: dict[str, Any] = {}

    def run(name: str, vm_class: Any) -> None:
        if name == "B":
            b_starts.wait(10)
        try:
            results[name] = execute(vm_class, codes, storage=storage)
        except Exception as exc:  # handed to the test
            results[name] = exc

    threads = [
        threading.Thread(target=run, args=(name, vm), name=name)
        for name, vm in (("A", vm_a), ("B", vm_b))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def pause_first(
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    name: str,
    thread: str,
    signal: threading.Event,
    then: Callable[[], None],
) -> None:
    """Make ``owner.name``, the first time thread ``thread`` calls it, set ``signal``
    and call ``then`` (wait or sleep) after doing its work."""
    real = getattr(owner, name)

    def hooked(*args: Any) -> Any:
        result = real(*args)
        if threading.current_thread().name == thread and not signal.is_set():
            signal.set()
            then()
        return result

    monkeypatch.setattr(owner, name, hooked)


@pytest.mark.parametrize("x_code", [X_READS, X_WRITES], ids=["read", "write"])
def test_llvm_run_state_kept_by_one_thread_adopted_by_another(
    monkeypatch: pytest.MonkeyPatch, x_code: bytes
) -> None:
    """A run state kept for the next frame on X was published before its frame was
    done with it: another thread's frame adopting it at that moment had its gas,
    output and writes sent to no frame (a wrong root, or ``AttributeError``)."""
    from evmkiln.backend_llvm import builtin_bridge

    codes = {CONTRACT_A: caller_of(2), X: x_code}
    expected = execute(CancunVM, codes, storage={X: {0: 41}})
    vm_a = make_vm_class("llvm", fork="cancun", interpret_on_compile_error=False)
    vm_b = make_vm_class("llvm", fork="cancun", interpret_on_compile_error=False)
    for vm in (vm_a, vm_b):  # compiled before the threads start
        assert execute(vm, codes, storage={X: {0: 41}}) == expected
    builtin_bridge._KEPT.clear()
    kept, b_running = threading.Event(), threading.Event()
    # A keeps its first nested frame's state, then waits until B runs a frame on it ...
    pause_first(monkeypatch, builtin_bridge, "keep_bounded", "A", kept, lambda: b_running.wait(10))
    # ... and B, in that frame's SLOAD, lets A finish its frame's end.
    pause_first(
        monkeypatch,
        builtin_bridge,
        "sload_with_original",
        "B",
        b_running,
        lambda: time.sleep(0.3),
    )
    results = in_two_threads(vm_a, vm_b, codes, b_starts=kept)
    assert kept.is_set() and b_running.is_set()
    assert results == {"A": expected, "B": expected}


def test_wasm_store_entered_by_a_second_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads sharing a VM class, B running X while A is inside X's store in a host
    call: B entered the store with A's stack bounds (a spurious stack overflow, or
    wasmtime aborting the process).  B now runs X in a store of its own."""
    from evmkiln.context import pyevm_host

    codes = {CONTRACT_A: caller_of(1), X: X_READS}
    expected = execute(CancunVM, codes, storage={X: {0: 41}})
    shared = make_vm_class(
        "wasm", fork="cancun", interpret_on_compile_error=False, persistent_cache=False
    )
    assert execute(shared, codes, storage={X: {0: 41}}) == expected
    inside = threading.Event()
    pause_first(monkeypatch, pyevm_host.PyEvmHost, "load_slot", "A", inside, lambda: time.sleep(1))
    # Stacks large enough that frames run on the threads themselves, not on helpers.
    previous = threading.stack_size(128 << 20)
    try:
        results = in_two_threads(shared, shared, codes, b_starts=inside)
    finally:
        threading.stack_size(previous)
    assert inside.is_set()
    assert results == {"A": expected, "B": expected}


def test_layers_flattened_while_another_thread_adds_reads() -> None:
    """A layer chain is flattened when it grows deep, walking every layer's storage;
    a state at one of those roots on another thread adds what it reads meanwhile.
    The walk failed with ``dictionary changed size during iteration``."""
    root = StateLayer(parent=None)
    chain = root
    for depth in range(8):
        layer = StateLayer(parent=chain)
        layer.depth = depth + 1
        for n in range(2_000):
            layer.storage[(depth * 10_000 + n).to_bytes(20, "big")] = {1: n}
        chain = layer
    older = chain.parent
    assert older is not None
    stop = time.monotonic() + 2
    errors: list[BaseException] = []

    class Cycle:
        """Garbage only the collector frees, with a finalizer: a collection that
        starts inside the flattening runs Python, and so lets the reader in."""

        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            pass

    def reader() -> None:
        n = 0
        while time.monotonic() < stop and not errors:
            n += 1
            key = (10**9 + n % 5_000).to_bytes(20, "big")  # a first read: a new key
            if older.storage.pop(key, None) is None:
                older.storage[key] = {}
            Cycle()

    def flattener() -> None:
        try:
            while time.monotonic() < stop:
                chain.flattened()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader), threading.Thread(target=flattener)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(switch)
    assert not errors, errors
