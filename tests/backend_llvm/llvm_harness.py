"""Run bytecode through the reference interpreter and the LLVM backend side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evmkiln.backend_llvm import LlvmBackend
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.codegen.backend import CompileOptions, Executable
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.codegen.reference import ReferenceBackend

LLVM = LlvmBackend()
LOWERING_FORK = "osaka"
"""Both backends run the same IR, so the newest fork's opcode table (a superset
of the older ones: CLZ) lets every IR word operation be reached from bytecode."""
REFERENCE = ReferenceBackend()


class FakeHost:
    """A host for frame-local programs: answers block reads, refuses everything else."""

    def block_number(self) -> int:
        return 1234

    def timestamp(self) -> int:
        return 1_700_000_000

    def chain_id(self) -> int:
        return 1

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"fake host has no {name}")


@dataclass(frozen=True)
class Outcome:
    result: str
    """The exit kind, or ``halt:<kind>``."""
    output: bytes
    gas: int
    memory: bytes
    refund: int


def make_frame(code: bytes, gas: int, calldata: bytes = b"", returndata: bytes = b"") -> Frame:
    return Frame(
        host=FakeHost(),  # type: ignore[arg-type]
        gas=gas,
        code=code,
        calldata=calldata,
        address=b"\xaa" * 20,
        caller=b"\xbb" * 20,
        value=7,
        is_static=False,
        depth=0,
        returndata=returndata,
    )


def run(
    executable: Executable, code: bytes, gas: int, calldata: bytes, returndata: bytes
) -> Outcome:
    frame = make_frame(code, gas, calldata, returndata)
    try:
        result = executable.run(frame).name
    except ExceptionalHalt as halt:
        result = f"halt:{halt.kind.name}"
    return Outcome(result, frame.output, frame.gas, bytes(frame.memory), frame.refund)


def compare(
    code: bytes,
    *,
    gas: int = 1_000_000,
    calldata: bytes = b"",
    returndata: bytes = b"",
    options: CompileOptions | None = None,
) -> Outcome:
    """Run ``code`` on both backends, assert identical outcomes, return the outcome."""
    function = lower_bytecode(code, fork=LOWERING_FORK)
    options = options or CompileOptions()
    expected = run(REFERENCE.compile(function, options), code, gas, calldata, returndata)
    actual = run(LLVM.compile(function, options), code, gas, calldata, returndata)
    assert actual == expected, code.hex()
    return actual


def push(value: int) -> bytes:
    """The shortest PUSH of ``value`` (PUSH0 for zero)."""
    if value == 0:
        return b"\x5f"
    n = (value.bit_length() + 7) // 8
    return bytes([0x5F + n]) + value.to_bytes(n, "big")


def asm(*parts: bytes | int) -> bytes:
    """Concatenate bytecode pieces; ints are single opcodes."""
    return b"".join(bytes([p]) if isinstance(p, int) else p for p in parts)
