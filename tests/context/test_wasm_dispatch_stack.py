"""wasm frames dispatched by the VM on a thread with a small native stack.

A process's main thread has a few MiB of native stack, too little for 1,024
nested wasm frames.  The wasm backend used to move every top-level frame
that may nest to a helper thread (two thread wake-ups per message).  Asked
by the dispatcher first (``declines``), it runs every frame on the caller's
thread instead, and the frames too deep for what is left run on py-evm's
interpreter, with the same results.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from eth.vm.forks.cancun import CancunVM
from message_harness import SENDER, addr, apply_message
from wasm_threads import count_helper_runs

from evmkiln.backend_wasm import runtime
from evmkiln.context import make_vm_class

STOP = b"\x00"


def _calls(target: bytes) -> bytes:
    """CALL(gas, target, 0, 0, 0, 0, 0); POP; STOP."""
    return bytes.fromhex("5f5f5f5f5f73" + target.hex() + "5af15000")


A, B, C = addr(0xA0), addr(0xB0), addr(0xC0)
CHAIN = {
    SENDER: {"balance": 10**18},
    C: {"code": _calls(B), "storage": {1: 1}},
    B: {"code": _calls(A)},
    A: {"code": bytes.fromhex("6007600055") + STOP},  # SSTORE(0, 7)
}


def _small_stack() -> bool:
    state = runtime._THREAD
    return bool(state.low) and state.size < runtime.INLINE_STACK


def test_frames_that_may_nest_run_on_the_callers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _small_stack():
        pytest.skip("this thread's native stack is large: wasm frames run on it anyway")
    handed = count_helper_runs(monkeypatch)
    vm_class = make_vm_class("wasm", "cancun", interpret_on_compile_error=False)
    expected = apply_message(CancunVM, CHAIN, to=C, persisted=True)
    assert apply_message(vm_class, CHAIN, to=C, persisted=True) == expected
    assert handed == []
    assert vm_class.stats.frames_run_compiled == 3
    assert vm_class.stats.interpreted_for == {}


def test_frames_too_deep_for_the_thread_run_on_the_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the top-level frame finds enough stack: the two nested ones are interpreted.

    The top-level frame's stack is probed; a frame called straight from a
    running wasm frame is measured from that frame's crossing into the host.
    """
    if not _small_stack():
        pytest.skip("this thread's native stack is large: nothing is measured")
    handed = count_helper_runs(monkeypatch)
    plenty = runtime.NESTED_RESERVE + 2 * runtime.VETTING_MARGIN
    monkeypatch.setattr(
        runtime, "stack_left", lambda low, size: 0 if runtime._THREAD.active else plenty
    )
    monkeypatch.setattr(runtime, "address_of", lambda pointer: runtime._THREAD.low)
    vm_class = make_vm_class("wasm", "cancun", interpret_on_compile_error=False)
    expected = apply_message(CancunVM, CHAIN, to=C, persisted=True)
    assert apply_message(vm_class, CHAIN, to=C, persisted=True) == expected
    assert handed == []
    assert vm_class.stats.frames_run_compiled == 1
    assert vm_class.stats.interpreted_for == {runtime.SHORT_STACK: 2}


DEEP = textwrap.dedent(
    """
    import json, sys, warnings
    sys.path.insert(0, {context!r})
    sys.setrecursionlimit(100_000)
    warnings.simplefilter("ignore")
    from eth.vm.forks.cancun import CancunVM
    from message_harness import SENDER, addr, apply_message
    from evmkiln.backend_wasm import runtime
    from evmkiln.context import make_vm_class
    # Every frame calls itself with all its gas: 1,025 frames, the last finds the limit.
    recurse = bytes.fromhex("5f5f5f5f5f305af15000")
    accounts = {{SENDER: {{"balance": 10**18}}, addr(0x1000): {{"code": recurse}}}}
    kwargs = {{"to": addr(0x1000), "gas": 10**14, "persisted": True}}
    vm = make_vm_class("wasm", "cancun", interpret_on_compile_error=False)
    same = apply_message(vm, accounts, **kwargs) == apply_message(CancunVM, accounts, **kwargs)
    state = runtime._THREAD
    print(json.dumps({{
        "same": same,
        "small": bool(state.low) and state.size < runtime.INLINE_STACK,
        "compiled": vm.stats.frames_run_compiled,
        "short": vm.stats.interpreted_for.get(runtime.SHORT_STACK, 0),
    }}))
    """
)


def test_a_chain_to_depth_1024_on_a_main_thread_matches_pyevm() -> None:
    """On a process's own main thread: no crash, py-evm's result, the deep end interpreted."""
    context = str(Path(__file__).parent)
    result = subprocess.run(
        [sys.executable, "-c", DEEP.format(context=context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["same"]
    assert seen["compiled"] + seen["short"] == 1025
    if seen["small"]:
        assert seen["compiled"] > 50 and seen["short"] > 0
