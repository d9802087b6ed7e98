"""The dispatching VM reads a compiled frame's output, never its memory: no copy is asked for."""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.backend_llvm.backend import LlvmBackend
from evmkiln.builtins.frame import Frame
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.ir.function import Function
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

# MSTORE(0x1000, 0xabcd); RETURN(0x101e, 2)
CODE = bytes.fromhex("61abcd61100052600261101ef3")


def test_compiled_frames_do_not_keep_their_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LlvmBackend()
    frames: list[Frame] = []
    compile_ = backend.compile

    class Recording:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def run(self, frame: Frame) -> ExitKind:
            frames.append(frame)
            return self.inner.run(frame)  # type: ignore[attr-defined, no-any-return]

    def compile(function: Function, options: CompileOptions | None = None) -> object:
        return Recording(compile_(function, options))

    monkeypatch.setattr(backend, "compile", compile)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    outcome = execute(vm_class, {CONTRACT_A: CODE})
    assert outcome == execute(CancunVM, {CONTRACT_A: CODE})
    assert outcome.output == b"\xab\xcd"
    (frame,) = frames
    assert not frame.keep_memory and frame.memory == bytearray()
