"""The engine's memory modes: which one a process gets, and that memories that
move when they grow (the compact mode) keep every frame's result exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wasm_compare import REFERENCE, FakeHost, Outcome, new_frame, run_with

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.backend import WasmExecutable
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode

HERE = Path(__file__).resolve().parent
CHILD = b"\x44" * 20

GROW_4MIB = bytes.fromhex(
    "5f"  # i = 0
    "5b" "8080" "52"  # 1: MSTORE(i, i)
    "611000" "01"  # i += 4096
    "80" "62400000" "11" "600157"  # if 0x400000 > i: goto 1
    "50" "595f20" "5f52"  # MSTORE(0, KECCAK256(0, MSIZE))
    "610100" "623fff00" "a0"  # LOG0 of the last 256 bytes (expands again)
    "60205ff3"  # RETURN(0, 32)
)  # fmt: skip
"""Grows memory 4 KiB at a time to 4 MiB, hashes it all, logs its tail."""

CALL_GROWING_CHILD = bytes.fromhex(
    "6007" "62100000" "52"  # MSTORE(0x100000, 7): this frame's memory grows first
    "6020" "62200000" "5f5f5f" "73" + CHILD.hex() + "5a" "f1"  # CALL(child) -> 0x200000
    "5f52"  # MSTORE(0, success)
    "595f20" "602052"  # MSTORE(32, KECCAK256(0, MSIZE))
    "60405ff3"  # RETURN(0, 64)
)  # fmt: skip
"""Grows its memory, calls :data:`GROW_4MIB`, whose result the CALL writes at 2 MiB."""

GAS = 100_000_000


@pytest.fixture
def compact(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Engines of the compact mode for this test; yields the addresses slots were found at."""
    monkeypatch.setattr(runtime, "MEMORY_MODE", "compact")
    settings = {**runtime.ENGINE_SETTINGS, **runtime.MEMORY_MODES["compact"]}
    monkeypatch.setattr(runtime, "ENGINE_SETTINGS", settings)
    monkeypatch.setattr(runtime, "_ENGINE", None)
    monkeypatch.setattr(runtime, "_FAST_ENGINE", None)
    addresses: list[int] = []
    locate = runtime._Slot._locate

    def recording(slot: runtime._Slot) -> None:
        locate(slot)
        addresses.append(slot.addr)

    monkeypatch.setattr(runtime._Slot, "_locate", recording)
    yield addresses


def _run_wasm(code: bytes, fast_tier: bool, codes: dict[bytes, bytes]) -> Outcome:
    """Like :func:`wasm_compare.run_with`, compiling afresh (this test's engine)."""
    host = FakeHost(WasmBackendOfTier(fast_tier), codes=dict(codes))
    frame = new_frame(host, code, GAS)
    executable = WasmExecutable(lower_bytecode(code), CompileOptions(), fast_tier=fast_tier)
    try:
        result: object = executable.run(frame)
        gas_left: object = frame.gas
        memory: object = bytes(frame.memory)
    except ExceptionalHalt as halt:
        result, gas_left, memory = ("halt", halt.kind), None, None
    return (result, frame.output, gas_left, memory, host.storage, host.transient, host.logs)


class WasmBackendOfTier:
    """Compiles sub-calls' code in one tier (the host's ``backend``)."""

    name = "wasm"

    def __init__(self, fast_tier: bool) -> None:
        self.fast_tier = fast_tier

    def compile(self, function: Any, options: CompileOptions | None = None) -> WasmExecutable:
        return WasmExecutable(function, options or CompileOptions(), fast_tier=self.fast_tier)


@pytest.mark.parametrize("fast_tier", [False, True], ids=["optimising", "fast"])
@pytest.mark.parametrize("program", ["grow", "call"])
def test_moving_memory_keeps_results_exact(
    compact: list[int], program: str, fast_tier: bool
) -> None:
    code, codes = (GROW_4MIB, {}) if program == "grow" else (CALL_GROWING_CHILD, {CHILD: GROW_4MIB})
    assert runtime.engine(fast=fast_tier) is not runtime.engine(fast=not fast_tier)
    want = run_with(REFERENCE, code, gas=GAS, codes=codes)
    assert not isinstance(want[0], tuple) and want[1]  # no halt: it returned
    got = _run_wasm(code, fast_tier, codes)
    assert got == want
    # Growth went through the host, by half again at least: from a few pages to
    # 64 (4 MiB) in a handful of steps, and the memory did move.
    found = len(set(compact))
    assert 2 <= found <= 24, compact


def test_refused_growth_is_an_error_not_out_of_gas() -> None:
    """Under an address-space limit a growth the frame pays for but the process
    cannot map raises WasmMemoryError; a smaller one in the same process works."""
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        sys.path.insert(0, {str(HERE)!r})
        from evmkiln.backend_wasm import WasmBackend, runtime
        from evmkiln.backend_wasm.host_bridge import WasmMemoryError
        from evmkiln.codegen.pipeline import lower_bytecode
        from wasm_compare import FakeHost, new_frame

        def vm_size():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))

        wasm = WasmBackend()
        def mstore_at(offset):
            code = bytes.fromhex("6001" "63" + offset.to_bytes(4, "big").hex() + "52" "00")
            exe = wasm.compile(lower_bytecode(code))
            frame = new_frame(FakeHost(wasm), code, 10**13)
            try:
                return [int(exe.run(frame)), frame.gas > 0]
            except WasmMemoryError as exc:
                return ["WasmMemoryError", "cannot grow" in str(exc)]

        mstore_at(0)  # compile and instantiate once before the limit
        limit = vm_size() + (384 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(json.dumps([runtime.MEMORY_MODE, mstore_at(64 << 20), mstore_at(1 << 30)]))
        """
    )
    env = {**os.environ, runtime.MEMORY_MODE_ENV: "compact"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == ["compact", [0, True], ["WasmMemoryError", True]]


MODE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    limit = int(sys.argv[1])
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        from evmkiln.backend_wasm import runtime
    except ValueError as exc:
        print(json.dumps(["ValueError", str(exc)]))
        raise SystemExit(0)
    import wasmtime
    from evmkiln.backend_wasm.backend import WasmBackend
    from evmkiln.codegen.pipeline import lower_bytecode

    def vm_size():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))

    contract = WasmBackend().compile(lower_bytecode(bytes.fromhex("00"))).contract
    contract.store = wasmtime.Store(runtime.engine())
    # The median of eight instances' growth: the process maps other things meanwhile
    # (an allocator arena), now and then.
    slots, growth = [], []
    for _ in range(8):
        before = vm_size()
        slots.append(contract._new_slot())
        growth.append(vm_size() - before)
    print(json.dumps([runtime.MEMORY_MODE, sorted(growth)[len(growth) // 2]]))
    """
)


@pytest.mark.parametrize(
    ("limit", "env", "mode"),
    [
        (0, None, "reserved"),
        (8 << 30, None, "compact"),
        (0, "compact", "compact"),
        (64 << 30, "reserved", "reserved"),
        (0, "auto", "reserved"),
    ],
)
def test_mode_follows_the_address_space_limit(limit: int, env: str | None, mode: str) -> None:
    """``auto``: compact only under RLIMIT_AS; the environment variable overrides.
    An instance then takes 4160 MiB of address space (reserved) or 640 KiB at most
    (compact: its fixed regions, a 4096-entry storage table most of them)."""
    environ = {k: v for k, v in os.environ.items() if k != runtime.MEMORY_MODE_ENV}
    if env is not None:
        environ[runtime.MEMORY_MODE_ENV] = env
    done = subprocess.run(
        [sys.executable, "-c", MODE_SCRIPT, str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environ,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found, per_instance = json.loads(done.stdout)
    assert found == mode
    if mode == "reserved":
        assert per_instance == (4 << 30) + (64 << 20)
    else:
        assert per_instance <= 640 << 10


def test_unknown_mode_is_refused_by_name() -> None:
    environ = {**os.environ, runtime.MEMORY_MODE_ENV: "huge"}
    done = subprocess.run(
        [sys.executable, "-c", MODE_SCRIPT, "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environ,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    kind, message = json.loads(done.stdout)
    assert kind == "ValueError"
    assert "EVMKILN_WASM_MEMORY='huge'" in message and "compact" in message
