"""EVM calls nest 1024 deep through the wasm backend, and running out of native
stack is a clear error, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from wasm_compare import ADDRESS, WASM, FakeHost, new_frame

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.host_bridge import WasmStackExhaustedError
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
        sys.path.insert(0, {str(here)!r})
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
        sys.path.insert(0, {str(here)!r})
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
