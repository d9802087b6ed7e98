"""Compiled contracts hold no file each: a process caching thousands of them keeps its
file descriptors (wasmtime's copy-on-write memory images are one file a module)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostless import hostless_frame

from evmkiln.backend_wasm.backend import WasmBackend
from evmkiln.codegen.backend import ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

FDS = Path("/proc/self/fd")


@pytest.mark.skipif(not FDS.is_dir(), reason="needs /proc/self/fd to count open files")
def test_run_contracts_kept_alive_hold_no_file_each() -> None:
    backend = WasmBackend()
    backend.compile(lower_bytecode(b"\x00"))  # the compiler process's pipes, opened first
    before = len(os.listdir(FDS))
    kept = []
    for value in range(64):
        code = bytes.fromhex(f"61{value:04x}60005260206000f3")  # RETURN a word holding value
        executable = backend.compile(lower_bytecode(code))
        frame = hostless_frame(code)
        assert executable.run(frame) is ExitKind.RETURN
        assert frame.output == value.to_bytes(32, "big")
        kept.append(executable)
    assert len(os.listdir(FDS)) - before < 8
