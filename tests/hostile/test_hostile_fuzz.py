"""Generated sequences of memory-touching operations with extreme operands, against py-evm.

A fixed dispatcher contract reads records ``(selector, a, b, c)`` from calldata
and runs one memory operation per record with those operands: hypothesis
draws the records (operands biased to the widths a backend might truncate
to), so one compiled code serves every example.  The slow variant lays the
same records out as straight-line code with constant operands instead (one
compile per example, the compiler sees every value).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostile_asm import BACKENDS, EXTREMES, Item, Label, Ref, asm, compare, expected
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B

B = int.from_bytes(CONTRACT_B, "big")
ECHO = asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", "CALLDATASIZE", 0, "RETURN")
PROLOGUE = asm(b"\x7f" + bytes(range(1, 33)), 0, "MSTORE", b"\x7f" + bytes(range(33, 65)), 32,
               "MSTORE")  # fmt: skip
DUMP = asm("MSIZE", 96, "MSTORE", 128, 0, "RETURN")

RECORD = 128
"""Bytes of calldata per record: selector word, then operands a, b, c."""

Operand = Callable[[int], list[Item]]
"""Pushes operand k (1: a, 2: b, 3: c) of the current record."""

HANDLERS: list[Callable[[Operand], list[Item]]] = [
    lambda x: [*x(1), "MLOAD", 0, "MSTORE"],
    lambda x: [*x(2), *x(1), "MSTORE"],
    lambda x: [*x(2), *x(1), "MSTORE8"],
    lambda x: [*x(3), *x(2), *x(1), "MCOPY"],
    lambda x: [*x(3), *x(2), *x(1), "CALLDATACOPY"],
    lambda x: [*x(3), *x(2), *x(1), "CODECOPY"],
    lambda x: [*x(3), *x(2), *x(1), B, "EXTCODECOPY"],
    lambda x: [*x(3), *x(2), *x(1), "RETURNDATACOPY"],
    lambda x: [*x(2), *x(1), "KECCAK256", 0, "MSTORE"],
    lambda x: [*x(2), *x(1), "LOG0"],
    lambda x: [*x(3), *x(3), *x(2), *x(1), "LOG2"],
    lambda x: [*x(2), *x(3), *x(2), *x(1), B, "GAS", "STATICCALL", 0, "MSTORE"],
    lambda x: [*x(1), *x(3), *x(2), *x(1), 0, B, "GAS", "CALL", "POP"],
    lambda x: [*x(2), *x(1), 0, "CREATE", "POP"],
    lambda x: [*x(2), *x(1), "RETURN"],
    lambda x: [*x(2), *x(1), "REVERT"],
]
"""One memory operation per selector (selector word mod 16)."""


def _from_calldata(k: int) -> list[Item]:
    return [0, "TLOAD", 32 * k, "ADD", "CALLDATALOAD"]  # transient slot 0: record offset


def _dispatcher() -> bytes:
    items: list[Item] = [PROLOGUE, Label("loop")]
    items += ["CALLDATASIZE", 0, "TLOAD", "LT", "ISZERO", Ref("end"), "JUMPI"]
    items += [len(HANDLERS), 0, "TLOAD", "CALLDATALOAD", "MOD"]
    for i in range(len(HANDLERS)):
        items += ["DUP1", i, "EQ", Ref(f"h{i}"), "JUMPI"]
    items += ["POP", Ref("next"), "JUMP"]
    for i, handler in enumerate(HANDLERS):
        items += [Label(f"h{i}"), "POP", *handler(_from_calldata), Ref("next"), "JUMP"]
    items += [Label("next"), 0, "TLOAD", RECORD, "ADD", 0, "TSTORE", Ref("loop"), "JUMP"]
    items += [Label("end"), DUMP]
    return asm(*items)


DISPATCHER = _dispatcher()


def _straight_line(records: list[tuple[int, int, int, int]]) -> bytes:
    items: list[Item] = [PROLOGUE]
    for sel, *operands in records:
        items += HANDLERS[sel % len(HANDLERS)](lambda k, ops=operands: [ops[k - 1]])
    return asm(*items, DUMP)


small = st.integers(min_value=0, max_value=200)
operand = st.one_of(
    small,  # mostly affordable, so that sequences run on past their first operation
    small,
    small,
    st.just(0),  # a zero size makes any offset free
    st.just(0),
    st.sampled_from(EXTREMES),
    st.sampled_from([2**31, 2**32 - 32, 2**63 - 1, 2**64 - 32, 2**256 - 32, 1024, 30_000]),
    st.integers(min_value=0, max_value=2**256 - 1),
)
records = st.lists(
    st.tuples(st.integers(0, len(HANDLERS) - 1), operand, operand, operand),
    min_size=1,
    max_size=6,
)


def _calldata(recs: list[tuple[int, int, int, int]]) -> bytes:
    return b"".join(v.to_bytes(32, "big") for rec in recs for v in rec)


def _intrinsic(data: bytes) -> int:
    return 21_000 + sum(16 if byte else 4 for byte in data)


# A third of the profile's examples per backend: three backends share the budget.
SHARE = settings(max_examples=max(20, settings.default.max_examples // 3))


@pytest.mark.profile_sized
@SHARE
@given(recs=records, extra_gas=st.integers(min_value=0, max_value=300_000))
@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_memory_operations_match_pyevm(
    backend: str, recs: list[tuple[int, int, int, int]], extra_gas: int
) -> None:
    data = _calldata(recs)
    codes = {CONTRACT_A: DISPATCHER, CONTRACT_B: ECHO}
    compare(backend, codes, data=data, gas=_intrinsic(data) + extra_gas)


@pytest.mark.slow
@pytest.mark.profile_sized
@SHARE
@given(recs=records, extra_gas=st.integers(min_value=0, max_value=300_000))
@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_constant_memory_operations_match_pyevm(
    backend: str, recs: list[tuple[int, int, int, int]], extra_gas: int
) -> None:
    codes = {CONTRACT_A: _straight_line(recs), CONTRACT_B: ECHO}
    compare(backend, codes, gas=21_000 + extra_gas)


def test_dispatcher_runs_each_record() -> None:
    """The dispatcher is what it claims: MSTORE8 records land where they say."""
    recs = [(2, 100, 0xAB, 0), (2 + 16 * 5, 95, 0xCD, 0)]  # selector taken mod 16
    data = _calldata(recs)
    out = expected({CONTRACT_A: DISPATCHER, CONTRACT_B: ECHO}, data=data, gas=200_000)
    assert out.success
    assert int.from_bytes(out.output[96:], "big") == 128  # MSIZE after a byte at 100
    line = _straight_line(recs)
    out2 = expected({CONTRACT_A: line, CONTRACT_B: ECHO}, gas=200_000)
    assert out2.output == out.output
