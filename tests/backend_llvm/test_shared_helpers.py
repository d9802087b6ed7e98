"""The Keccak-256 helper compiled once per process, called by every JIT module.

JIT modules declare it and are linked against the process's copy, in
process or from a compiler process's object file; artifacts carry their own.
"""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from llvm_harness import asm, make_frame, push

from evmkiln.backend_llvm import LlvmBackend, shared_helpers
from evmkiln.backend_llvm.translate import translate
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

HASH_AND_RETURN = asm(
    0x36, push(0), push(0), 0x37,  # CALLDATACOPY(0, 0, calldatasize)
    0x36, push(0), 0x20,  # KECCAK256(0, calldatasize)
    push(0), 0x52, push(32), push(0), 0xF3,  # return it
)  # fmt: skip
DEFINITION = "define internal i256 @evmkiln.keccak256"


def test_jit_modules_declare_the_helper_and_artifacts_define_it() -> None:
    function = lower_bytecode(HASH_AND_RETURN)
    jit_text = translate(function, CompileOptions(), shared_helpers=True)
    artifact_text = translate(function, CompileOptions())
    assert shared_helpers.SHARED["keccak256"] in jit_text
    assert DEFINITION not in jit_text
    assert DEFINITION in artifact_text
    assert shared_helpers.SHARED["keccak256"] not in artifact_text


@pytest.mark.parametrize("size", [0, 31, 32, 64, 135, 136, 300])
def test_words_and_blocks_through_the_process_copy(size: int) -> None:
    data = bytes((3 * i + 1) % 256 for i in range(size))
    backend = LlvmBackend(isolated=False)
    code = asm(push(size), push(0), 0x20, push(0), 0x52, push(32), push(0), 0xF3)
    frame = make_frame(asm(_store(data), code), 10**7, b"")
    assert backend.compile(lower_bytecode(frame.code)).run(frame) is ExitKind.RETURN
    assert bytes(frame.output) == keccak(data)


def _store(data: bytes) -> bytes:
    """MSTOREs writing ``data`` from memory offset 0 (whole words, zero-padded)."""
    out = b""
    for offset in range(0, len(data), 32):
        word = data[offset : offset + 32].ljust(32, b"\0")
        out += asm(push(int.from_bytes(word, "big")), push(offset), 0x52)
    return out


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "compiler-process"])
def test_contracts_link_against_one_copy(isolated: bool) -> None:
    backend = LlvmBackend(isolated=isolated)
    for calldata in (b"", b"\x01" * 32, bytes(range(64)), bytes(range(200))):
        frame = make_frame(HASH_AND_RETURN, 10**7, calldata)
        executable = backend.compile(lower_bytecode(HASH_AND_RETURN))
        assert executable.run(frame) is ExitKind.RETURN
        assert bytes(frame.output) == keccak(calldata)
    shared_helpers.ensure()
    first = shared_helpers.address("keccak256")
    shared_helpers.ensure()
    assert shared_helpers.address("keccak256") == first
