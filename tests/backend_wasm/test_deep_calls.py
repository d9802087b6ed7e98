"""EVM calls nest 1024 deep through the wasm backend, and running out of native
stack is a clear error, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from wasm_compare import ADDRESS, WASM, FakeHost, new_frame
from wasm_threads import count_helper_runs

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.host_bridge import WasmStackExhaustedError
from evmkiln.backend_wasm.leaf import function_runs_no_frames, runs_no_frames
from evmkiln.backend_wasm.native_stack import stack_left, thread_stack
from evmkiln.builtins.host import ChildResult
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

RECURSE = bytes([0x5F] * 5 + [0x30, 0x5A, 0xF1, 0x00])
"""CALL(gas, ADDRESS, 0, 0, 0, 0, 0) then STOP: every frame calls itself."""
GAS = 4 * 10**18
"""Enough that the 63/64 rule still leaves gas at depth 1024."""


@pytest.fixture(autouse=True)
def _recursion_limit() -> Any:
    # Each level is a handful of Python frames (the host's call, the bridge).
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    yield
    sys.setrecursionlimit(previous)


class DepthHost(FakeHost):
    deepest = 0

    def call(self, **kw: Any) -> ChildResult:
        self.deepest = max(self.deepest, self.depth + 1)
        return super().call(**kw)


def _recurse() -> DepthHost:
    host = DepthHost(WASM, codes={ADDRESS: RECURSE})
    frame = new_frame(host, RECURSE, GAS)
    assert WASM.compile(lower_bytecode(RECURSE)).run(frame) is ExitKind.STOP
    return host


def test_depth_1024_from_a_small_stack_thread() -> None:
    # pytest's main thread has a few MiB of stack: the run moves to a helper thread.
    assert _recurse().deepest == 1024


def test_depth_1024_inline_on_a_large_stack_thread() -> None:
    result: list[object] = []

    def target() -> None:
        try:
            result.append(_recurse().deepest)
        except BaseException as exc:
            result.append(exc)

    previous = threading.stack_size(runtime.INLINE_STACK)
    try:
        thread = threading.Thread(target=target)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    assert result == [1024]


def test_unknown_stack_bounds_run_on_one_helper_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without pthread_getattr_np the caller's stack is unknown: the run moves to
    # a helper thread once (not again from inside it) and still nests 1024 deep.
    monkeypatch.setattr(runtime, "_native_stack", lambda: (0, 0))
    spawned = 0
    original = runtime._on_helper_thread

    def counting(run: Any, frame: Any) -> ExitKind:
        nonlocal spawned
        spawned += 1
        return original(run, frame)

    monkeypatch.setattr(runtime, "_on_helper_thread", counting)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(_recurse().deepest))
    thread.start()
    thread.join()
    assert result == [1024]
    assert spawned == 1


def test_too_little_native_stack_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend a nested run needs more native stack than any thread has.  (Not
    # "nearly the helper's stack": glibc may give the helper thread a larger
    # cached stack that an earlier thread, such as on_deep_stack's, left.)
    monkeypatch.setattr(runtime, "NESTED_RESERVE", 1 << 40)
    with pytest.raises(WasmStackExhaustedError, match="native stack"):
        _recurse()


def test_wasm_stack_limit_is_a_clear_error() -> None:
    # A process whose engine allows only 1 MiB of wasm stack: wasmtime's own
    # "call stack exhausted" trap surfaces as WasmStackExhaustedError.
    here = Path(__file__).parent
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(here)!r}, {str(here.parent / "support")!r}]
        from evmkiln.backend_wasm import runtime
        runtime.MAX_WASM_STACK = 1 << 20
        sys.setrecursionlimit(50_000)
        from evmkiln.backend_wasm.host_bridge import WasmStackExhaustedError
        import test_deep_calls
        try:
            test_deep_calls._recurse()
        except WasmStackExhaustedError as exc:
            print("exhausted", "call stack exhausted" in str(exc))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["exhausted", "True"]


def test_depth_1024_under_a_4_gib_address_space_limit() -> None:
    """Every level keeps an instance alive: in the compact memory mode 1024 of
    them fit a process limited to 4 GiB of address space (reserved ones take
    4160 MiB each), on the helper thread and inline on a large stack."""
    here = Path(__file__).parent
    script = textwrap.dedent(
        f"""
        import json, resource, sys, threading
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        sys.path[:0] = [{str(here)!r}, {str(here.parent / "support")!r}]
        sys.setrecursionlimit(50_000)
        from evmkiln.backend_wasm import runtime
        import test_deep_calls

        depths = [test_deep_calls._recurse().deepest]
        previous = threading.stack_size(runtime.INLINE_STACK)
        try:
            thread = threading.Thread(
                target=lambda: depths.append(test_deep_calls._recurse().deepest)
            )
            thread.start()
        finally:
            threading.stack_size(previous)
        thread.join()
        with open("/proc/self/status") as f:
            peak = next(int(l.split()[1]) << 10 for l in f if l.startswith("VmPeak"))
        print(json.dumps([runtime.MEMORY_MODE, depths, peak]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    mode, depths, peak = json.loads(out.stdout)
    assert mode == "compact"
    assert depths == [1024, 1024]
    print(f"\npeak address space at depth 1024: {peak >> 20} MiB")


LEAF = bytes.fromhex("6007 5f 55 63f1f2f4f5 50 00")
"""SSTORE(0, 7); PUSH4 0xf1f2f4f5; POP; STOP: the CALL-family bytes are data."""


def test_a_run_that_cannot_nest_stays_on_a_small_stack_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed = count_helper_runs(monkeypatch)
    executable = WASM.compile(lower_bytecode(LEAF))
    host = FakeHost(WASM)
    assert executable.run(new_frame(host, LEAF, 100_000)) is ExitKind.STOP
    assert handed == []
    assert list(host.storage.values()) == [7]  # it ran here, and ran the whole code
    # The CALL of RECURSE's frame may nest: its module moved (and only the top frame).
    recurse = WASM.compile(lower_bytecode(RECURSE))
    assert recurse.run(new_frame(DepthHost(WASM, codes={ADDRESS: RECURSE}), RECURSE, GAS)) is (
        ExitKind.STOP
    )
    assert handed == [0]


def test_a_leaf_without_the_reserve_moves_to_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    handed = count_helper_runs(monkeypatch)
    monkeypatch.setattr(runtime, "NESTED_RESERVE", 1 << 40)
    executable = WASM.compile(lower_bytecode(LEAF))
    assert executable.run(new_frame(FakeHost(WASM), LEAF, 100_000)) is ExitKind.STOP
    assert handed == [0]


def test_leaf_modules_are_found_from_the_code_and_from_the_ir() -> None:
    assert runs_no_frames(b"") and runs_no_frames(LEAF)
    assert not runs_no_frames(RECURSE)
    assert not runs_no_frames(bytes.fromhex("5f5f5f5f 5f f5 00"))  # CREATE2
    assert runs_no_frames(bytes.fromhex("7f" + "f1" * 32 + "00"))  # PUSH32 of CALL bytes
    assert not runs_no_frames(bytes.fromhex("60f1 fa"))  # STATICCALL after the push data
    assert function_runs_no_frames(lower_bytecode(LEAF))
    assert not function_runs_no_frames(lower_bytecode(RECURSE))
    # The IR knows more: a CALL after a STOP is never lowered.
    dead_call = bytes.fromhex("00 5f5f5f5f5f5f5f f1")
    assert not runs_no_frames(dead_call) and function_runs_no_frames(lower_bytecode(dead_call))


def test_the_stack_probe_reads_this_threads_stack() -> None:
    low, size = thread_stack()
    left = stack_left(low, size)
    assert 0 < left <= size
    assert stack_left(0, 0) == 0
    assert stack_left(low, 16) == 0  # a reading outside the bounds given is not trusted


def test_a_vetting_is_for_the_next_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``declines`` lets the next run start on this small-stack thread; a run nobody
    asked about (no dispatcher that could interpret it) still moves to the helper."""
    state = runtime._THREAD
    if not state.low or state.size >= runtime.INLINE_STACK:
        pytest.skip("this thread's native stack is large: nothing moves")
    handed = count_helper_runs(monkeypatch)
    call_stop = bytes.fromhex("5f5f5f5f5f73" + ADDRESS.hex() + "5af15000")
    executable = WASM.compile(lower_bytecode(call_stop))
    host = FakeHost(WASM, codes={ADDRESS: b"\x00"})
    assert executable.declines() is None
    assert executable.run(new_frame(host, call_stop, 100_000)) is ExitKind.STOP
    assert handed == []
    assert executable.run(new_frame(host, call_stop, 100_000)) is ExitKind.STOP
    assert handed == [0]
    monkeypatch.setattr(runtime, "stack_left", lambda low, size: 0)
    assert executable.declines() == runtime.SHORT_STACK


def test_a_frame_called_straight_from_wasm_is_measured_from_the_crossing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next frame one deeper than the running wasm frame: the stack left below that
    frame's crossing, no probe.  Any other depth (frames of the interpreter or of
    another backend in between): the probe."""
    state = runtime._THREAD
    if not state.low or state.size >= runtime.INLINE_STACK:
        pytest.skip("this thread's native stack is large: nothing is measured")
    plenty = runtime.NESTED_RESERVE + 2 * runtime.VETTING_MARGIN
    asked: list[str] = []

    def probe(low: int, size: int) -> int:
        asked.append("probe")
        return plenty

    def crossing(pointer: object) -> int:
        asked.append("crossing")
        return state.low if pointer == "short" else state.low + plenty

    monkeypatch.setattr(runtime, "stack_left", probe)
    monkeypatch.setattr(runtime, "address_of", crossing)
    running = SimpleNamespace(frame=SimpleNamespace(depth=3), host=SimpleNamespace(values="ok"))
    monkeypatch.setattr(state, "active", [running])
    assert runtime.native_stack_reason(4) is None and asked == ["crossing"]
    assert runtime.native_stack_reason(5) is None and asked == ["crossing", "probe"]
    assert runtime.native_stack_reason(None) is None and asked[-1] == "probe"
    running.host.values = "short"
    assert runtime.native_stack_reason(4) == runtime.SHORT_STACK
    state.vetted = False
