"""A frame that does not keep its memory gets its output all the same, and no copy."""

from __future__ import annotations

import pytest
from wasm_compare import WASM, FakeHost, new_frame

from evmkiln.backend_llvm.backend import LlvmBackend
from evmkiln.codegen.backend import Backend, ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

# MSTORE(0x1000, 0xabcd); RETURN(0x101e, 2): memory grows to 0x1020 bytes.
CODE = bytes.fromhex("61abcd61100052600261101ef3")


@pytest.mark.parametrize("backend", [WASM, LlvmBackend()], ids=["wasm", "llvm"])
@pytest.mark.parametrize("keep", [True, False])
def test_output_with_and_without_the_memory(backend: Backend, keep: bool) -> None:
    executable = backend.compile(lower_bytecode(CODE))
    frame = new_frame(FakeHost(WASM), CODE, 100_000)
    frame.keep_memory = keep
    assert executable.run(frame) is ExitKind.RETURN
    assert frame.output == b"\xab\xcd"
    if keep:
        assert len(frame.memory) == 0x1020 and frame.memory[0x101E:0x1020] == b"\xab\xcd"
    else:
        assert frame.memory == bytearray()
    again = new_frame(FakeHost(WASM), CODE, 100_000)  # the reused buffer starts clean
    assert executable.run(again) is ExitKind.RETURN and again.memory[:0x101E] == bytes(0x101E)
