"""Whole programs on the LLVM backend and the reference, side by side.

Covers the parts of the translation that are not word arithmetic: memory at
its bounds, static and dynamic jumps, stack limits, gas at the exact
boundary, builtin crossings (including halts and errors raised inside them)
and the compile options.
"""

from __future__ import annotations

import pytest
from llvm_harness import LLVM, REFERENCE, asm, compare, make_frame, push

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

STOP, ADD, MLOAD, MSTORE, MSTORE8, MSIZE = 0x00, 0x01, 0x51, 0x52, 0x53, 0x59
JUMP, JUMPI, JUMPDEST, POP, RETURN, REVERT = 0x56, 0x57, 0x5B, 0x50, 0xF3, 0xFD
CALLDATALOAD, CALLDATACOPY, RETURNDATACOPY, KECCAK, MCOPY = 0x35, 0x37, 0x3E, 0x20, 0x5E
HUGE = [2**32 - 32, 2**32, 2**63, 2**64 - 1, 2**64, 2**255, 2**256 - 1, 2**256 - 32]


def ret(offset: int = 0, size: int = 32) -> bytes:
    return asm(push(size), push(offset), RETURN)


def from_calldata(index: int) -> bytes:
    return asm(push(32 * index), CALLDATALOAD)


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


# -- memory -----------------------------------------------------------------------
def test_store_load_roundtrip() -> None:
    code = asm(from_calldata(0), push(100), MSTORE, push(100), MLOAD, push(3), MSTORE8, ret(0, 160))
    assert compare(code, calldata=words(2**256 - 12345)).result == "RETURN"


@pytest.mark.parametrize("offset", HUGE)
@pytest.mark.parametrize("op", [MLOAD, MSTORE, MSTORE8])
def test_huge_offsets_run_out_of_gas(offset: int, op: int) -> None:
    value = b"" if op == MLOAD else push(1)
    code = asm(value, from_calldata(0), op, STOP)
    assert compare(code, calldata=words(offset)).result == "halt:OUT_OF_GAS"


@pytest.mark.parametrize("offset", [0, 5, *HUGE])
@pytest.mark.parametrize("size", [0, 1, 33, *HUGE])
@pytest.mark.parametrize("op", [RETURN, REVERT])
def test_return_ranges(offset: int, size: int, op: int) -> None:
    code = asm(push(0xABCDEF), push(0), MSTORE, from_calldata(1), from_calldata(0), op)
    outcome = compare(code, calldata=words(offset, size))
    if size == 0:
        assert outcome.result in ("RETURN", "REVERT") and outcome.output == b""


@pytest.mark.parametrize("offset", [0, 31, *HUGE])
@pytest.mark.parametrize("size", [0, 1, 64, *HUGE])
def test_keccak_ranges(offset: int, size: int) -> None:
    code = asm(from_calldata(1), from_calldata(0), KECCAK, push(0), MSTORE, ret())
    compare(code, calldata=words(offset, size))


def test_builtin_growth_is_seen_by_native_code() -> None:
    # CALLDATACOPY grows memory in Python; the following MLOAD/MSIZE run natively.
    code = asm(
        push(64), push(0), push(1000), CALLDATACOPY, push(1000), MLOAD, push(0), MSTORE,
        MSIZE, push(32), MSTORE, push(990), push(1040), push(64), MCOPY, ret(0, 2000),
    )  # fmt: skip
    compare(code, calldata=bytes(range(64)))


def test_memory_growth_loop() -> None:
    # i = 0; loop: mstore(i*97, i); i += 1; if i < 200 goto loop
    loop = 2
    code = asm(
        push(0), JUMPDEST, 0x80, 0x80, push(97), 0x02, MSTORE, push(1), ADD,
        0x80, push(200), 0x11, push(loop), JUMPI, MSIZE, push(0), MSTORE, ret(0, 64),
    )  # fmt: skip
    compare(code)


# -- jumps ----------------------------------------------------------------------------
def test_static_and_dynamic_jumps() -> None:
    # jump to calldata[0]; the two JUMPDESTs (3 and 8) return different values
    code = asm(from_calldata(0), JUMP, JUMPDEST, push(1), push(0), MSTORE, JUMPDEST, ret())
    assert code[3] == JUMPDEST and code[8] == JUMPDEST
    for target in (3, 8):
        assert compare(code, calldata=words(target)).result == "RETURN"
    for target in (0, 2, 4, 9, 2**64 + 3, 2**256 - 1):
        assert compare(code, calldata=words(target)).result == "halt:INVALID_JUMP"


def test_jump_into_push_data_is_invalid() -> None:
    code = asm(from_calldata(0), JUMP, bytes([0x60, JUMPDEST]), JUMPDEST, STOP)
    assert code[4] == JUMPDEST and code[5] == JUMPDEST
    assert compare(code, calldata=words(4)).result == "halt:INVALID_JUMP"
    assert compare(code, calldata=words(5)).result == "STOP"


def test_conditional_jump_both_ways() -> None:
    code = asm(from_calldata(0), push(11), JUMPI, push(1), ret(), JUMPDEST, push(2), ret())
    assert code[11] == JUMPDEST
    for cond in (0, 1, 2**255):
        compare(code, calldata=words(cond))


# -- stack ---------------------------------------------------------------------------
def test_stack_underflow() -> None:
    assert compare(asm(ADD, STOP)).result == "halt:STACK_UNDERFLOW"
    code = asm(from_calldata(0), JUMP, JUMPDEST, ADD, STOP)
    assert compare(code, calldata=words(3)).result == "halt:STACK_UNDERFLOW"


def test_stack_overflow() -> None:
    # JUMPDEST PUSH0 PUSH1 0 JUMP: grows the stack by one each round.
    code = asm(JUMPDEST, push(0), bytes([0x60, 0]), JUMP)
    assert compare(code).result == "halt:STACK_OVERFLOW"


# -- gas ------------------------------------------------------------------------------
GAS_PROGRAMS = [
    asm(push(1), push(2), ADD, push(0), MSTORE, ret()),
    asm(from_calldata(0), push(3), 0x0A, push(0), MSTORE, ret()),  # EXP: dynamic gas
    asm(push(64), push(0), push(5000), CALLDATACOPY, ret(4000, 1200)),
    asm(push(7), push(10_000), MSTORE8, STOP),
]


@pytest.mark.parametrize("code", GAS_PROGRAMS, ids=lambda c: c.hex()[:16])
def test_gas_exactly_at_the_boundary(code: bytes) -> None:
    calldata = words(2**200)
    start = 1_000_000
    used = start - compare(code, gas=start, calldata=calldata).gas
    exact = compare(code, gas=used, calldata=calldata)
    assert exact.gas == 0 and not exact.result.startswith("halt")
    assert compare(code, gas=used - 1, calldata=calldata).result == "halt:OUT_OF_GAS"


def test_gas_metering_off() -> None:
    code = GAS_PROGRAMS[0]
    outcome = compare(code, gas=5, options=CompileOptions(gas_metering=False))
    # Static charges are dropped; memory expansion (3 gas for one word) is not.
    assert outcome.result == "RETURN" and outcome.gas == 2


@pytest.mark.parametrize("opt_level", [0, 1, 2, 3])
def test_opt_levels(opt_level: int) -> None:
    compare(GAS_PROGRAMS[1], calldata=words(12345), options=CompileOptions(opt_level=opt_level))


# -- builtins -------------------------------------------------------------------------
def test_halt_inside_a_builtin() -> None:
    code = asm(push(8), push(0), push(0), RETURNDATACOPY, STOP)
    outcome = compare(code, returndata=b"1234")
    assert outcome.result == "halt:RETURNDATA_OUT_OF_BOUNDS"


def test_environment_builtins() -> None:
    code = asm(
        0x30, push(0), MSTORE, 0x33, push(32), MSTORE, 0x34, push(64), MSTORE,
        0x36, push(96), MSTORE, 0x43, push(128), MSTORE, ret(0, 160),
    )  # fmt: skip
    compare(code, calldata=b"xyz")


def test_python_error_in_a_builtin_propagates() -> None:
    code = asm(0x32, STOP)  # ORIGIN: the fake host refuses it
    function = lower_bytecode(code)
    for backend in (REFERENCE, LLVM):
        with pytest.raises(RuntimeError, match="fake host"):
            backend.compile(function).run(make_frame(code, 100_000))


@pytest.mark.parametrize("op", [0xFE, 0x0C, 0xEF])
def test_invalid_opcodes(op: int) -> None:
    compare(asm(push(1), op))


# -- backend surface -------------------------------------------------------------------
def test_compile_is_cached_and_emits_text() -> None:
    function = lower_bytecode(GAS_PROGRAMS[0])
    assert LLVM.compile(function) is LLVM.compile(function)
    assert function.name in LLVM.emit_llvm(function)
    assert function.name in LLVM.emit_asm(function)


def test_rerun_and_halt_leave_gas_like_the_reference() -> None:
    code = asm(push(1), push(2), ADD, 0xFE)
    executable = LLVM.compile(lower_bytecode(code))
    frame = make_frame(code, 100)
    with pytest.raises(ExceptionalHalt) as info:
        executable.run(frame)
    assert info.value.kind is HaltKind.INVALID_INSTRUCTION
    frame = make_frame(asm(STOP), 0)
    assert LLVM.compile(lower_bytecode(asm(STOP))).run(frame) is ExitKind.STOP


def test_engines_can_die_between_compiles() -> None:
    # Each MCJIT engine owns its target machine; dropping executables compiled at
    # different levels must leave later compiles working.
    from evmkiln.backend_llvm import LlvmBackend

    for level in (0, 2, 0, 2, 0):
        backend = LlvmBackend()
        code = asm(push(level), push(0), MSTORE, ret())
        executable = backend.compile(lower_bytecode(code), CompileOptions(opt_level=level))
        assert executable.run(make_frame(code, 10_000)) is ExitKind.RETURN
        del backend, executable
