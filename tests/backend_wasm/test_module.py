"""The module itself: it validates, its text form assembles to the same bytes, crossings work."""

from __future__ import annotations

import pytest
import wasmtime

from evmkiln.backend_wasm import WasmBackend
from evmkiln.backend_wasm.encoding import sleb, uleb
from evmkiln.backend_wasm.runtime import engine
from evmkiln.backend_wasm.wat import to_wat
from evmkiln.codegen.pipeline import lower_bytecode

PROGRAMS = [
    "6001600201600052600a5b60019003806013575b00",
    "5f35565b60015f5260205ff35b006005",
    "602a600155600154" + "5f52" + "60205fa0" + "5f35600435" + "0a" + "5f35" + "1b" + "00",
    "5f3560203504" + "5f3560203506" + "5f35602035600435" + "09" + "00",
]


@pytest.mark.parametrize("code", PROGRAMS)
def test_module_validates_and_wat_round_trips(code: str) -> None:
    exe = WasmBackend().compile(lower_bytecode(bytes.fromhex(code)))
    assert wasmtime.Module.validate(engine(), exe.wasm) is None
    assert wasmtime.wat2wasm(exe.wat()) == exe.wasm


def test_leb128() -> None:
    assert uleb(0) == b"\x00" and uleb(624485) == bytes.fromhex("e58e26")
    assert sleb(-1) == b"\x7f" and sleb(-123456) == bytes.fromhex("c0bb78")
    assert sleb(63) == b"\x3f" and sleb(64) == b"\xc0\x00"


def test_emit_wat_matches_compiled_module() -> None:
    f = lower_bytecode(bytes.fromhex(PROGRAMS[0]))
    backend = WasmBackend()
    assert backend.emit_wat(f).split("\n", 1)[1] == to_wat(backend.compile(f).translation.module)
