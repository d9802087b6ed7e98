"""The message environment in wasm: CALLVALUE, CALLER, ADDRESS, CALLDATASIZE, RETURNDATASIZE,
CALLDATALOAD read from the header; CALLDATACOPY, CODECOPY and MCOPY copied in linear memory.

The runtime writes the frame's message words and the first
``CALLDATA_WINDOW`` bytes of its call data into linear memory for every
frame; generated code reads them there, and a CALLDATALOAD whose word is not
inside the window crosses into the builtin.  Against py-evm, through a
transaction, so a nested frame (whose message differs) is covered too.
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM
from hypothesis import given, settings
from hypothesis import strategies as st
from wasm_compare import count_crossings

from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.layout import CALLDATA_WINDOW
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

WASM = make_vm_class("wasm", "cancun", interpret_on_compile_error=False)


def _load_and_store(offsets: list[int]) -> str:
    """CALLDATALOAD at each offset into consecutive memory words."""
    code = ""
    for i, offset in enumerate(offsets):
        code += f"7f{offset:064x}35" + f"61{32 * i:04x}52"
    return code


def _program(offsets: list[int]) -> bytes:
    """Every loaded word, then CALLVALUE, CALLER, ADDRESS, CALLDATASIZE, RETURNDATASIZE.

    Then the same from a child: CALL B with value 3 and the first 40 bytes of
    memory as its call data; the child returns six words, appended, and the
    parent's RETURNDATASIZE after the call (192) last.
    """
    words = _load_and_store(offsets)
    n = len(offsets)
    for j, opcode in enumerate(("34", "33", "30", "36", "3d")):
        words += f"{opcode}61{32 * (n + j):04x}52"
    size = 32 * (n + 5)
    # CALL(gas, B, 3, 0, 40, size, 192); RETURNDATASIZE at size + 192; RETURN(0, size + 224)
    call = f"60c061{size:04x}6028 5f 6003 73{CONTRACT_B.hex()} 5a f1 50".replace(" ", "")
    after = f"3d61{size + 192:04x}52"
    return bytes.fromhex(words + call + after + f"61{size + 224:04x}5ff3")


CHILD = bytes.fromhex(
    "5f355f52" + "600435602052" + "34604052" + "33606052" + "30608052" + "3660a052" + "60c05ff3"
)
"""The child's CALLDATALOAD(0), CALLDATALOAD(4), CALLVALUE, CALLER, ADDRESS, CALLDATASIZE."""


def _counting_bytes(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


OFFSETS = st.lists(
    st.one_of(
        st.integers(0, CALLDATA_WINDOW + 64),
        st.sampled_from([CALLDATA_WINDOW - 33, CALLDATA_WINDOW - 32, CALLDATA_WINDOW - 31]),
        st.sampled_from([2**64, 2**64 + 5, 2**128, 2**255, 2**256 - 1]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(
    offsets=OFFSETS,
    data=st.one_of(
        st.binary(max_size=80),
        st.integers(CALLDATA_WINDOW - 40, CALLDATA_WINDOW + 40).map(_counting_bytes),
    ),
    value=st.sampled_from([0, 1, 2**200]),
)
def test_message_words_and_call_data_match_pyevm(
    offsets: list[int], data: bytes, value: int
) -> None:
    codes = {CONTRACT_A: _program(offsets), CONTRACT_B: CHILD}
    balances = {CONTRACT_A: 10**18}
    expected = execute(CancunVM, codes, data=data, value=value % 10**18, balances=balances)
    assert execute(WASM, codes, data=data, value=value % 10**18, balances=balances) == expected
    assert expected.success


def test_only_a_word_outside_the_window_crosses(monkeypatch: pytest.MonkeyPatch) -> None:
    crossed = count_crossings(monkeypatch)
    inside = [0, 4, CALLDATA_WINDOW - 32]
    outside = [CALLDATA_WINDOW - 31, 2**64]
    code = bytes.fromhex(_load_and_store(inside + outside) + "34 33 30 36 3d 00".replace(" ", ""))
    data = bytes(range(256)) * 5
    codes = {CONTRACT_A: code}
    assert execute(WASM, codes, data=data) == execute(CancunVM, codes, data=data)
    ids = runtime.BUILTIN_IDS
    assert sorted(crossed) == sorted([ids["calldataload"]] * len(outside))


COPY_OPS = {"calldatacopy": "37", "codecopy": "39", "mcopy": "5e"}
SMALL = st.integers(0, CALLDATA_WINDOW + 64)
OPERAND = st.one_of(
    SMALL,
    st.sampled_from([CALLDATA_WINDOW - 32, CALLDATA_WINDOW, 2**32, 2**64 - 1, 2**64, 2**255]),
)


def _copies(ops: list[tuple[str, int, int, int]]) -> bytes:
    """Each copy with its three operands, then RETURN(0, MSIZE)."""
    code = ""
    for name, dest, offset, size in ops:
        code += f"7f{size:064x}7f{offset:064x}7f{dest:064x}{COPY_OPS[name]}"
    return bytes.fromhex(code + "595ff3")


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(sorted(COPY_OPS)), OPERAND, OPERAND, st.one_of(SMALL, OPERAND)),
        min_size=1,
        max_size=5,
    ),
    data=st.one_of(st.binary(max_size=64), st.integers(1000, 1100).map(_counting_bytes)),
    gas=st.sampled_from([45_000, 60_000, 1_000_000]),
)
def test_copies_match_pyevm(ops: list[tuple[str, int, int, int]], data: bytes, gas: int) -> None:
    """CALLDATACOPY within the window, CODECOPY within the code and MCOPY of 64-bit operands
    copy in wasm; the rest take the builtin.  Out of gas anywhere is py-evm's too."""
    codes = {CONTRACT_A: _copies(ops)}
    expected = execute(CancunVM, codes, data=data, gas=gas)
    assert execute(WASM, codes, data=data, gas=gas) == expected


def test_copies_inside_their_sources_do_not_cross(monkeypatch: pytest.MonkeyPatch) -> None:
    crossed = count_crossings(monkeypatch)
    inside = [("calldatacopy", 0, 4, 64), ("codecopy", 64, 0, 32), ("mcopy", 200, 0, 96)]
    outside = [("calldatacopy", 0, CALLDATA_WINDOW - 10, 64), ("codecopy", 0, 0, 4096)]
    codes = {CONTRACT_A: _copies(inside + outside)}
    data = bytes(range(200))
    assert execute(WASM, codes, data=data) == execute(CancunVM, codes, data=data)
    ids = runtime.BUILTIN_IDS
    assert sorted(crossed) == sorted([ids["calldatacopy"], ids["codecopy"]])


@pytest.mark.parametrize("op", [("calldatacopy", 0, 0, 1000), ("mcopy", 900, 0, 1000)])
def test_running_out_of_gas_in_a_copy_is_pyevms(op: tuple[str, int, int, int]) -> None:
    """Gas in small steps across the copy's price: out of gas in expansion, in the copy
    charge, or not at all, each as py-evm has it."""
    codes = {CONTRACT_A: _copies([op])}
    data = bytes(range(100))
    base = 21_000 + 16 * 99 + 4
    endings = set()
    for gas in range(base, base + 600, 7):
        expected = execute(CancunVM, codes, data=data, gas=gas)
        assert execute(WASM, codes, data=data, gas=gas) == expected, gas
        endings.add(expected.success)
    assert endings == {True, False}
