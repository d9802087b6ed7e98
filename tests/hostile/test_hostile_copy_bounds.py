"""Copies at the edges of their sources, on every backend, against py-evm.

CALLDATACOPY, CODECOPY and EXTCODECOPY read past the end of their source as
zeros, at any offset; MCOPY handles overlap both ways and a source beyond
MSIZE (which expands memory too).  RETURNDATACOPY is the strict one: a range
ending past the return data halts, even with size 0, and ``offset + size`` is
compared without wrapping at any width.
"""

from __future__ import annotations

import pytest
from hostile_asm import BACKENDS, Arg, Case, asm, build, expected, mismatches

from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B

B = int.from_bytes(CONTRACT_B, "big")
NOBODY = 0xDEAD  # an address without code
DATA = bytes(range(1, 41))  # 40 bytes of calldata
B_CODE = asm(b"\x7f" + bytes(range(0xA0, 0xC0)), 0, "MSTORE", 64, 0, "RETURN")
"""Contract B: returns 64 bytes (a0..bf, then 32 zeros); its code is 38 bytes long."""
REVERTS_17 = asm(b"\x7f" + bytes(range(0xA0, 0xC0)), 0, "MSTORE", 17, 3, "REVERT")

DUMP = asm("MSIZE", 96, "MSTORE", 128, 0, "RETURN")
"""Return memory 0..96 and MSIZE (before this epilogue)."""
FILL = asm(2**256 - 1, 0, "MSTORE", 2**256 - 1, 32, "MSTORE", 2**256 - 1, 64, "MSTORE")
"""Memory 0..96 all ff, so zero fill is visible."""

SOURCE_OFFSETS = [0, 1, 32, 37, 38, 39, 40, 41, 64, 2**32, 2**64 - 1, 2**255]
SOURCE_OFFSETS += [2**256 - 32, 2**256 - 1]


def _case(name: str, code: bytes, b: bytes = B_CODE, data: bytes = DATA) -> Case:
    return name, {CONTRACT_A: code, CONTRACT_B: b}, {"data": data, "gas": 300_000}


COPIERS: list[tuple[str, list[int]]] = [
    ("CODECOPY", []),
    ("EXTCODECOPY(B)", [B]),
    ("EXTCODECOPY(nobody)", [NOBODY]),
    ("CALLDATACOPY", []),
]


def source_past_end_cases() -> list[Case]:
    """Operands from calldata (one compiled code per opcode).  Small source offsets are
    shifted so that those around 40 straddle the end of the source: the calldata is the
    operand words (64 bytes) then DATA (40); A's own code is longer than 40 bytes."""
    cases = []
    for src in SOURCE_OFFSETS:
        for size in (0, 5, 33):
            name = f"({size:#x},{src:#x},8)"
            for label, tail in COPIERS:
                op = label.split("(")[0]
                code_len = len(build([FILL, Arg(0), Arg(0), 8, op, DUMP], dynamic=True)[0])
                shift = {"CALLDATACOPY": 64, "CODECOPY": code_len - 40}.get(op, 0)
                shifted = src + shift if src < 2**32 else src
                parts = [FILL, Arg(size), Arg(shifted), 8, *tail, op, DUMP]
                code, data = build(parts, dynamic=True, tail=DATA)
                cases.append((f"{label}{name}", {CONTRACT_A: code, CONTRACT_B: B_CODE},
                              {"data": data, "gas": 300_000}))  # fmt: skip
    # empty calldata, empty code source (a precompile has no code)
    for size in (1, 32):
        cases.append(_case(f"CALLDATACOPY none {size}", asm(FILL, size, 0, 0, "CALLDATACOPY", DUMP),
                           data=b""))  # fmt: skip
        cases.append(_case(f"EXTCODECOPY(4) {size}", asm(FILL, size, 0, 0, 4, "EXTCODECOPY", DUMP)))
    return cases


def mcopy_cases() -> list[Case]:
    pattern = asm(b"\x7f" + bytes(range(1, 33)), 0, "MSTORE", b"\x7f" + bytes(range(33, 65)), 32,
                  "MSTORE")  # fmt: skip
    cases = []
    for dst, src, size in [
        (1, 0, 63), (0, 1, 63), (0, 0, 64), (32, 0, 64), (0, 32, 64), (5, 3, 40), (3, 5, 40),
        (64, 0, 64), (0, 64, 64), (0, 96, 32), (0, 70, 1), (100, 0, 0), (0, 100, 0),
        (2**256 - 1, 0, 0), (0, 2**256 - 1, 0), (0, 2**256 - 1, 1), (2**64 - 1, 0, 1),
        (0, 0, 2**64 - 1), (0, 2**32, 1), (2**32 - 1, 0, 2),
    ]:  # fmt: skip
        cases.append(_case(f"MCOPY({dst:#x},{src:#x},{size:#x})",
                           asm(pattern, size, src, dst, "MCOPY", DUMP)))  # fmt: skip
    return cases


# RETURNDATACOPY ranges against 64 bytes of return data (from B), or 17 (B reverted).
RDC_RANGES = [
    (0, 64), (64, 0), (0, 0), (63, 1), (32, 32), (1, 63),  # inside: fine
    (65, 0), (64, 1), (1, 64), (0, 65), (2**256 - 1, 0), (2**256 - 1, 1), (1, 2**256 - 1),
    (2**256 - 1, 2**256 - 1), (2**256 - 64, 128), (2**256 - 32, 64),  # sums that wrap 256 bits
    (2**64 - 1, 2), (2, 2**64 - 1), (2**64 - 64, 128), (2**64, 0), (0, 2**64),  # wrap 64 bits
    (2**32 - 1, 2), (2, 2**32 - 1), (2**32, 0), (0, 2**32), (2**63, 2**63),
]  # fmt: skip


def returndatacopy_cases() -> list[Case]:
    call_b = asm(0, 0, 0, 0, B, "GAS", "STATICCALL", 0, "SSTORE")
    call_nobody = asm(0, 0, 0, 0, NOBODY, "GAS", "STATICCALL", 0, "SSTORE")
    cases = []
    for src, size in RDC_RANGES:
        name = f"({src:#x},{size:#x})"
        rdc = asm(size, src, 8, "RETURNDATACOPY")
        cases.append(_case(f"RDC 64 {name}", asm(FILL, call_b, rdc, DUMP)))
        cases.append(_case(f"RDC reverted 17 {name}", asm(FILL, call_b, rdc, DUMP), b=REVERTS_17))
        cases.append(_case(f"RDC nothing yet {name}", asm(FILL, rdc, DUMP)))
        cases.append(_case(f"RDC after an empty call {name}", asm(FILL, call_nobody, rdc, DUMP)))
        # the range from calldata: one compiled code for all of them
        dyn = asm(FILL, call_b, 32, "CALLDATALOAD", 0, "CALLDATALOAD", 8, "RETURNDATACOPY", DUMP)
        data = src.to_bytes(32, "big") + size.to_bytes(32, "big")
        cases.append(_case(f"RDC 64 dynamic {name}", dyn, data=data))
    # a huge destination with size 0 and an in-bounds source is fine
    for dst in (2**64, 2**256 - 1):
        cases.append(_case(f"RDC to {dst:#x}", asm(FILL, call_b, 0, 64, dst, "RETURNDATACOPY",
                                                   DUMP)))  # fmt: skip
    # return data after CREATE: empty on success, the revert data on failure
    initcode_reverting = asm(0xABCDEF, 0, "MSTORE", 3, 29, "REVERT")
    store = asm(b"\x7f" + initcode_reverting.ljust(32, b"\x00"), 0, "MSTORE")
    for src, size in [(0, 3), (0, 4), (3, 0), (4, 0)]:
        code = asm(FILL, store, len(initcode_reverting), 0, 0, "CREATE", 1, "SSTORE",
                   size, src, 40, "RETURNDATACOPY", DUMP)  # fmt: skip
        cases.append(_case(f"RDC after a reverted CREATE ({src},{size})", code))
    return cases


FAMILIES = {
    "source past end": source_past_end_cases,
    "mcopy": mcopy_cases,
    "returndatacopy": returndatacopy_cases,
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_copy_bounds(backend: str, family: str) -> None:
    assert mismatches(backend, FAMILIES[family]()) == []


def test_returndatacopy_bounds_on_pyevm() -> None:
    """The oracle halts exactly past the end, and not before, whatever the widths."""
    cases = {name: (codes, kw) for name, codes, kw in returndatacopy_cases()}
    for src, size in RDC_RANGES:
        codes, kw = cases[f"RDC 64 ({src:#x},{size:#x})"]
        outcome = expected(codes, **kw)
        assert outcome.success == (src + size <= 64), (src, size)
