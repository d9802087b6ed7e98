"""Builtins the LLVM backend runs natively, against the Python implementations.

The reference backend calls :data:`evmkiln.builtins.impl.IMPLEMENTATIONS`, so
every comparison here checks the native code against the Python builtin:
result, output, memory, and gas to the unit.  Offsets and sizes range over
small, boundary and huge words; each copy and hash is also run with exactly
the gas it needs and with one unit less.
"""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from llvm_harness import LLVM, REFERENCE, asm, compare, make_frame, push

from evmkiln.backend_llvm.native import NATIVE_BUILTINS
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.backend import CompileOptions
from evmkiln.codegen.pipeline import lower_bytecode

HUGE = [2**32 - 1, 2**32, 2**32 + 1, 2**33, 2**64 - 1, 2**64, 2**255, 2**256 - 1]
offsets = st.one_of(
    st.integers(0, 300),
    st.sampled_from([0, 1, 31, 32, 33, 135, 136, 137, 1023, 4096, *HUGE]),
    st.integers(0, 2**256 - 1),
)
sizes = st.one_of(
    st.integers(0, 300),
    st.sampled_from([0, 1, 31, 32, 33, 135, 136, 137, 272, 5000, *HUGE]),
)
data = st.binary(max_size=300)

RETURN_WORD = asm(push(0), 0x52, push(32), push(0), 0xF3)
"""MSTORE the top of the stack at 0 and return that word."""
RETURN_MEMORY = asm(0x59, push(0), 0xF3)
"""Return the whole memory (MSIZE bytes from 0)."""


def gas_used(code: bytes, calldata: bytes, returndata: bytes = b"") -> int | None:
    """Gas the reference uses with ample gas; ``None`` when it halts anyway."""
    function = lower_bytecode(code)
    gas = 10**9
    frame = make_frame(code, gas, calldata, returndata)
    try:
        REFERENCE.compile(function, CompileOptions()).run(frame)
    except ExceptionalHalt:
        return None
    return gas - frame.gas


def compare_at_boundary(code: bytes, calldata: bytes = b"", returndata: bytes = b"") -> None:
    """Compare with ample gas, then with exactly the gas used and one unit less."""
    compare(code, gas=10**9, calldata=calldata, returndata=returndata)
    used = gas_used(code, calldata, returndata)
    for gas in (used, used - 1) if used else ():
        compare(code, gas=gas, calldata=calldata, returndata=returndata)


def test_native_builtins_are_host_free() -> None:
    for name in NATIVE_BUILTINS:
        assert not BUILTINS[name].uses_host, name
        assert not BUILTINS[name].observes_gas, name


@pytest.mark.parametrize(
    ("opcode", "expected"),
    [
        (0x30, int.from_bytes(b"\xaa" * 20, "big")),  # ADDRESS
        (0x33, int.from_bytes(b"\xbb" * 20, "big")),  # CALLER
        (0x34, 7),  # CALLVALUE
    ],
)
def test_environment_words(opcode: int, expected: int) -> None:
    outcome = compare(asm(opcode, RETURN_WORD))
    assert int.from_bytes(outcome.output, "big") == expected


def test_callvalue_wide() -> None:
    code = asm(0x34, RETURN_WORD)
    function = lower_bytecode(code)
    for value in (0, 2**255 + 12345, 2**256 - 1):
        frames = [make_frame(code, 10**6) for _ in range(2)]
        for frame in frames:
            frame.value = value
        REFERENCE.compile(function).run(frames[0])
        LLVM.compile(function).run(frames[1])
        assert frames[0].output == frames[1].output == value.to_bytes(32, "big")
        assert frames[0].gas == frames[1].gas


@given(calldata=data, returndata=data)
@settings(max_examples=20, deadline=None)
def test_sizes(calldata: bytes, returndata: bytes) -> None:
    for opcode, expected in ((0x36, len(calldata)), (0x3D, len(returndata))):
        outcome = compare(asm(opcode, RETURN_WORD), calldata=calldata, returndata=returndata)
        assert int.from_bytes(outcome.output, "big") == expected


@given(calldata=data, offset=offsets)
@settings(max_examples=30, deadline=None)
def test_calldataload(calldata: bytes, offset: int) -> None:
    outcome = compare(asm(push(offset), 0x35, RETURN_WORD), calldata=calldata)
    expected = calldata[offset : offset + 32].ljust(32, b"\0") if offset < len(calldata) else b""
    assert outcome.output == expected.ljust(32, b"\0")


@given(calldata=data)
@settings(max_examples=20, deadline=None)
def test_calldataload_from_calldata(calldata: bytes) -> None:
    # The offset is a run-time value: CALLDATALOAD(CALLDATALOAD(0) >> 248).
    compare(asm(push(0), 0x35, push(248), 0x1C, 0x35, RETURN_WORD), calldata=calldata)


@pytest.mark.parametrize("opcode", [0x37, 0x39], ids=["calldatacopy", "codecopy"])
@given(calldata=data, dest=offsets, offset=offsets, size=sizes, pre=st.integers(0, 200))
@settings(max_examples=20, deadline=None)
def test_copies(opcode: int, calldata: bytes, dest: int, offset: int, size: int, pre: int) -> None:
    # ``pre`` grows memory first (MSTORE8 at pre-1), so some copies land inside it.
    grow = asm(push(1), push(pre - 1), 0x53) if pre else b""
    code = asm(grow, push(size), push(offset), push(dest), opcode, RETURN_MEMORY)
    compare_at_boundary(code, calldata)


@given(returndata=data, dest=offsets, offset=offsets, size=sizes, pre=st.integers(0, 200))
@settings(max_examples=30, deadline=None)
def test_returndatacopy(returndata: bytes, dest: int, offset: int, size: int, pre: int) -> None:
    # Past the end of the return data halts; offsets near the end are the interesting ones.
    offset = offset % (len(returndata) + 2) if offset < 2**32 else offset
    grow = asm(push(1), push(pre - 1), 0x53) if pre else b""
    code = asm(grow, push(size), push(offset), push(dest), 0x3E, RETURN_MEMORY)
    compare_at_boundary(code, returndata=returndata)


@given(calldata=data, dest=offsets, src=offsets, size=sizes)
@settings(max_examples=30, deadline=None)
def test_mcopy(calldata: bytes, dest: int, src: int, size: int) -> None:
    # Call data is copied to memory 0 first, so overlapping copies move real bytes.
    fill = asm(0x36, push(0), push(0), 0x37) if calldata else b""
    code = asm(fill, push(size), push(src), push(dest), 0x5E, RETURN_MEMORY)
    compare_at_boundary(code, calldata)


@pytest.mark.parametrize(("dest", "src"), [(0, 5), (5, 0), (3, 3), (40, 0), (0, 40)])
def test_mcopy_overlap(dest: int, src: int) -> None:
    calldata = bytes(range(1, 81))
    code = asm(0x36, push(0), push(0), 0x37, push(45), push(src), push(dest), 0x5E, RETURN_MEMORY)
    outcome = compare(code, calldata=calldata)
    memory = bytearray(calldata.ljust(96, b"\0"))
    memory[dest : dest + 45] = memory[src : src + 45]
    assert outcome.output == bytes(memory)


@given(
    calldata=data,
    offset=st.one_of(st.integers(0, 300), st.sampled_from(HUGE)),
    size=sizes,
)
@settings(max_examples=25, deadline=None)
def test_keccak256(calldata: bytes, offset: int, size: int) -> None:
    # Call data is copied to memory 0 first, so hashed bytes are not all zero.
    fill = asm(0x36, push(0), push(0), 0x37) if calldata else b""
    code = asm(fill, push(size), push(offset), 0x20, RETURN_WORD)
    outcome = compare(code, gas=10**9, calldata=calldata)
    if outcome.result == "RETURN":
        # An empty range hashes to keccak(b"") wherever it starts (it never expands memory).
        hashed = calldata[offset : offset + size].ljust(size, b"\0") if size else b""
        assert outcome.output == keccak(hashed)
    used = gas_used(code, calldata)
    for gas in (used, used - 1) if used else ():
        compare(code, gas=gas, calldata=calldata)


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 64, 134, 135, 136, 137, 271, 272, 273, 1000])
def test_keccak256_block_boundaries(size: int) -> None:
    calldata = bytes(range(256)) * 4
    code = asm(0x36, push(0), push(0), 0x37, push(size), push(3), 0x20, RETURN_WORD)
    outcome = compare(code, calldata=calldata)
    assert outcome.output == keccak(calldata[3 : 3 + size].ljust(size, b"\0"))


def test_keccak256_loop_grows_memory() -> None:
    # Hash a growing region each round: native hashing interleaved with expansions.
    code = asm(
        push(0),  # i
        0x5B,  # JUMPDEST at pc 1
        0x80, push(32), 0x02,  # i*32
        0x80, 0x81, 0x20,  # keccak(i*32, i*32)
        0x81, 0x52,  # mstore(i*32, hash)
        0x50,  # pop i*32
        push(1), 0x01,  # i+1
        0x80, push(40), 0x11,  # 40 > i+1
        push(1), 0x57,  # loop while so
        RETURN_MEMORY,
    )  # fmt: skip
    compare(code, gas=10**7)
