"""Every memory-touching opcode with extreme offsets and sizes, on every backend, against py-evm.

Offsets and sizes are words around every width a backend could truncate to
(32, 63, 64, 255, 256 bits).  A zero size never expands memory and never halts,
whatever the offset; a nonzero size at a huge offset is an out-of-gas halt,
never a crash or a wrapped-around write.  Each test runs a whole grid of
programs for one opcode family and reports every disagreement at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_asm import (
    BACKENDS,
    EXTREMES,
    Arg,
    Case,
    Part,
    asm,
    build,
    compare,
    expected,
    mismatches,
    vm_class,
)

from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

SIZES = [0, 33, 2**32, 2**64 - 1, 2**256 - 1]
"""Sizes for the region under test (0 must be free at any offset)."""

PATTERN = bytes(range(1, 65))
PROLOGUE = asm(b"\x7f" + PATTERN[:32], 0, "MSTORE", b"\x7f" + PATTERN[32:], 32, "MSTORE")
"""Memory 0..64 holds 01 02 .. 40 (PUSH32 each half; MSIZE is 64 after it)."""

DUMP = asm("MSIZE", 96, "MSTORE", 128, 0, "RETURN")
"""Return memory 0..96 and, after it, MSIZE as it was before this epilogue."""

CALLDATA = bytes(range(100, 140))
ECHO = asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", "CALLDATASIZE", 0, "RETURN")
"""Contract B: returns its calldata."""
B_RETURNS_64 = asm(b"\x7f" + bytes(range(200, 232)), 0, "MSTORE", 64, 0, "RETURN")
"""Contract B, variant: returns 64 bytes (c8..e7 then zeros)."""

B = int.from_bytes(CONTRACT_B, "big")

VALUE = 0x1122334455667788990011223344556677889900112233445566778899AABBCC


class Maker:
    def __init__(self, dynamic: bool) -> None:
        self.dynamic = dynamic

    def __call__(self, name: str, *parts: Part, b: bytes = ECHO) -> Case:
        code, data = build(parts, dynamic=self.dynamic, tail=CALLDATA)
        return name, {CONTRACT_A: code, CONTRACT_B: b}, {"data": data}


def _grid() -> Iterator[tuple[int, int]]:
    for offset in EXTREMES:
        for size in SIZES:
            yield offset, size


def mload(case: Maker) -> Iterator[Case]:
    for off in EXTREMES:
        # The loaded word is dropped: the expansion must still happen (or halt).
        yield case(f"MLOAD-dropped({off:#x})", PROLOGUE, Arg(off), "MLOAD", "POP", DUMP)
        yield case(f"MLOAD({off:#x})", PROLOGUE, Arg(off), "MLOAD", 64, "MSTORE", DUMP)


def mstore(case: Maker) -> Iterator[Case]:
    for off in EXTREMES:
        yield case(f"MSTORE({off:#x})", PROLOGUE, VALUE, Arg(off), "MSTORE", DUMP)
        yield case(f"MSTORE8({off:#x})", PROLOGUE, VALUE, Arg(off), "MSTORE8", DUMP)


def keccak(case: Maker) -> Iterator[Case]:
    for off, size in _grid():
        yield case(
            f"KECCAK256({off:#x},{size:#x})",
            PROLOGUE, Arg(size), Arg(off), "KECCAK256", 64, "MSTORE", DUMP,
        )  # fmt: skip


def mcopy(case: Maker) -> Iterator[Case]:
    for v, size in _grid():
        for dst, src in ((v, 1), (1, v), (v, v)):
            yield case(
                f"MCOPY({dst:#x},{src:#x},{size:#x})",
                PROLOGUE, Arg(size), Arg(src), Arg(dst), "MCOPY", DUMP,
            )  # fmt: skip
    for size in EXTREMES:  # the length alone extreme, between small regions
        yield case(f"MCOPY(0,32,{size:#x})", PROLOGUE, Arg(size), 32, 0, "MCOPY", DUMP)


def copies(case: Maker) -> Iterator[Case]:
    for v, size in _grid():
        for dst, src in ((v, 3), (3, v)):
            args = (Arg(size), Arg(src), Arg(dst))
            name = f"({dst:#x},{src:#x},{size:#x})"
            yield case(f"CALLDATACOPY{name}", PROLOGUE, *args, "CALLDATACOPY", DUMP)
            yield case(f"CODECOPY{name}", PROLOGUE, *args, "CODECOPY", DUMP)
            yield case(f"EXTCODECOPY{name}", PROLOGUE, *args, B, "EXTCODECOPY", DUMP)


def returndatacopy(case: Maker) -> Iterator[Case]:
    # STATICCALL(gas, B, 0, 0, 0, 0): B returns 64 bytes, memory untouched.
    call_b = asm(0, 0, 0, 0, B, "GAS", "STATICCALL", "POP")
    for dst in EXTREMES:
        for size in SIZES:
            yield case(
                f"RETURNDATACOPY({dst:#x},0,{size:#x})",
                PROLOGUE, call_b, Arg(size), 0, Arg(dst), "RETURNDATACOPY", DUMP,
                b=B_RETURNS_64,
            )  # fmt: skip


def logs(case: Maker) -> Iterator[Case]:
    for n in range(5):
        topics = [VALUE - i for i in range(n)]
        sizes = SIZES if n in (0, 4) else [0, 33]
        for off in EXTREMES:
            for size in sizes:
                yield case(
                    f"LOG{n}({off:#x},{size:#x})",
                    PROLOGUE, *topics, Arg(size), Arg(off), f"LOG{n}", DUMP,
                )  # fmt: skip


def exits(case: Maker) -> Iterator[Case]:
    for off, size in _grid():
        for op in ("RETURN", "REVERT"):
            yield case(f"{op}({off:#x},{size:#x})", PROLOGUE, Arg(size), Arg(off), op)


CALLS = {"CALL": 1, "CALLCODE": 1, "DELEGATECALL": None, "STATICCALL": None}
"""Call opcodes and the value they send (None: no value operand)."""


def calls(case: Maker) -> Iterator[Case]:
    for op, value in CALLS.items():
        value_part = [] if value is None else [value]
        sizes = SIZES if op in ("CALL", "STATICCALL") else [0, 33]
        for v in EXTREMES:
            for size in sizes:
                extreme = (Arg(v), Arg(size))
                for region, args, ret in (("args", extreme, (0, 48)), ("ret", (8, 40), extreme)):
                    yield case(
                        f"{op}({region}={v:#x}+{size:#x})",
                        PROLOGUE, ret[1], ret[0], args[1], args[0], *value_part, B, "GAS", op,
                        1, "SSTORE", DUMP,
                    )  # fmt: skip


INITCODE = asm(0x60016000, 0, "MSTORE", 4, 28, "RETURN")
"""Deploys the 4-byte code 60 01 60 00 (the code hash is in the state root)."""


def creates(case: Maker) -> Iterator[Case]:
    store_initcode = asm(b"\x7f" + INITCODE.rjust(32, b"\x00"), 0, "MSTORE")
    start = 32 - len(INITCODE)
    sizes = [0, 1, 2**32, 2**64 - 1, 2**256 - 1]
    # 49152 is the initcode limit (EIP-3860): one byte more is a halt before anything runs.
    grid = [(off, size) for off in EXTREMES for size in sizes]
    grid += [(off, size) for off in (0, start) for size in (len(INITCODE), 49152, 49153)]
    for off, size in grid:
        yield case(
                f"CREATE({off:#x},{size:#x})",
                store_initcode, Arg(size), Arg(off), 0, "CREATE", 1, "SSTORE", DUMP,
            )  # fmt: skip
        yield case(
                f"CREATE2({off:#x},{size:#x})",
                store_initcode, 7, Arg(size), Arg(off), 0, "CREATE2", 1, "SSTORE", DUMP,
            )  # fmt: skip


FAMILIES = {
    "mload": mload,
    "mstore": mstore,
    "keccak": keccak,
    "mcopy": mcopy,
    "copies": copies,
    "returndatacopy": returndatacopy,
    "logs": logs,
    "exits": exits,
    "calls": calls,
    "creates": creates,
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_offsets_and_sizes(backend: str, family: str) -> None:
    """Operands from calldata: one compiled code per opcode shape, the whole grid through it."""
    assert mismatches(backend, FAMILIES[family](Maker(dynamic=True))) == []


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_constant_offsets_and_sizes(backend: str, family: str) -> None:
    """The same grid with every operand a constant the compiler sees (one compile per case)."""
    assert mismatches(backend, FAMILIES[family](Maker(dynamic=False))) == []


@pytest.mark.parametrize(
    "code",
    [
        asm(PROLOGUE, 0, 2**256 - 1, "KECCAK256", "POP", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 2**256 - 1, "MCOPY", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 2**256 - 1, "CALLDATACOPY", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 2**64, "CODECOPY", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 2**63, B, "EXTCODECOPY", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, "LOG0", DUMP),
        asm(PROLOGUE, 1, 2, 3, 4, 0, 2**256 - 1, "LOG4", DUMP),
        asm(PROLOGUE, 0, 2**255, 0, 2**64, 0, B, "GAS", "CALL", 1, "SSTORE", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 0, 2**32, B, "GAS", "STATICCALL", 1, "SSTORE", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, 0, "CREATE", 1, "SSTORE", DUMP),
        asm(PROLOGUE, 0, 0, 2**256 - 1, 0, "CREATE2", 1, "SSTORE", DUMP),
        asm(PROLOGUE, 0, 2**256 - 1, "RETURN"),
        asm(PROLOGUE, 0, 2**256 - 1, "REVERT"),
    ],
    ids=lambda code: code.hex()[-24:],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_size_at_huge_offset_is_free(backend: str, code: bytes) -> None:
    """py-evm itself: no expansion, no halt; every backend the same."""
    want = compare(backend, {CONTRACT_A: code, CONTRACT_B: ECHO}, data=CALLDATA)
    assert want.error in ("", "revert")
    if want.success and len(want.output) == 128:
        assert int.from_bytes(want.output[96:], "big") == 64  # MSIZE unchanged by the op


# --- just-affordable expansions: out of gas exactly at the boundary ----------------------

BOUNDARY_PROGRAMS = {
    "MLOAD": asm(70_000, "MLOAD", "POP", DUMP),
    "MSTORE": asm(VALUE, 70_001, "MSTORE", DUMP),
    "MSTORE8": asm(VALUE, 70_031, "MSTORE8", DUMP),
    "KECCAK256": asm(3_000, 67_000, "KECCAK256", 0, "MSTORE", DUMP),
    "MCOPY-dst": asm(4_000, 0, 66_000, "MCOPY", DUMP),
    "MCOPY-src": asm(4_000, 66_000, 0, "MCOPY", DUMP),
    "CALLDATACOPY": asm(5_000, 2, 65_000, "CALLDATACOPY", DUMP),
    "CODECOPY": asm(5_000, 2, 65_000, "CODECOPY", DUMP),
    "EXTCODECOPY": asm(5_000, 2, 65_000, B, "EXTCODECOPY", DUMP),
    "RETURNDATACOPY": asm(
        0, 0, 0, 0, B, "GAS", "STATICCALL", "POP", 40, 0, 70_000, "RETURNDATACOPY", DUMP
    ),
    "LOG0": asm(2_000, 68_000, "LOG0", DUMP),
    "LOG4": asm(1, 2, 3, 4, 2_000, 68_000, "LOG4", DUMP),
    "RETURN": asm(1_000, 69_000, "RETURN"),
    "REVERT": asm(1_000, 69_000, "REVERT"),
    "CALL-args": asm(0, 0, 1_000, 69_000, 0, B, "GAS", "CALL", 1, "SSTORE", DUMP),
    "CALL-ret": asm(1_000, 69_000, 40, 0, 0, B, "GAS", "CALL", 1, "SSTORE", DUMP),
    "STATICCALL-ret": asm(1_000, 69_000, 40, 0, B, 5_000, "STATICCALL", DUMP),
    "DELEGATECALL-args": asm(0, 0, 1_000, 69_000, B, "GAS", "DELEGATECALL", DUMP),
    "CREATE": asm(1_000, 69_000, 0, "CREATE", DUMP),
    "CREATE2": asm(5, 1_000, 69_000, 0, "CREATE2", DUMP),
}


def _affordable(code: bytes, gas: int) -> bool:
    codes = {CONTRACT_A: code, CONTRACT_B: B_RETURNS_64}
    return expected(codes, data=CALLDATA, gas=gas).error != "halt"


def _boundary(code: bytes) -> int:
    """The least transaction gas with which py-evm does not halt (binary search)."""
    low, high = 21_000 + 16 * len(CALLDATA), 2_000_000
    assert not _affordable(code, low) and _affordable(code, high)
    while high - low > 1:
        middle = (low + high) // 2
        if _affordable(code, middle):
            high = middle
        else:
            low = middle
    return high


@pytest.mark.parametrize("name", BOUNDARY_PROGRAMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_just_affordable_expansion(backend: str, name: str) -> None:
    code = BOUNDARY_PROGRAMS[name]
    gas = _boundary(code)
    codes = {CONTRACT_A: code, CONTRACT_B: B_RETURNS_64}
    assert expected(codes, data=CALLDATA, gas=gas - 1).error == "halt"
    for g in (gas - 1, gas, gas + 1):
        compare(backend, codes, data=CALLDATA, gas=g)


def test_grid_sanity() -> None:
    """The grids are what they claim: py-evm halts on huge nonzero ranges and not on size 0."""
    code = asm(PROLOGUE, 1, 2**64, "MSTORE8", DUMP)
    assert execute(vm_class("pyevm"), {CONTRACT_A: code}).error == "halt"
    code = asm(PROLOGUE, 0, 2**64, "KECCAK256", "POP", DUMP)
    assert execute(vm_class("pyevm"), {CONTRACT_A: code}).success
