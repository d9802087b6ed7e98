"""The host's per-frame storage cache never shows a value a child frame has changed.

A frame caches the slots it reads; a DELEGATECALL child writes the parent's
own storage, and a reverting child's writes are undone.  The parent reads
the slot again after the child, and must see what py-evm's interpreter sees.
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

CHILD_WRITES = bytes.fromhex("600260005500")  # SSTORE(0, 2); STOP
CHILD_WRITES_THEN_REVERTS = bytes.fromhex("600360005560006000fd")  # SSTORE(0, 3); REVERT


def _parent(call_opcode: int) -> bytes:
    """SSTORE(0, 1); SLOAD(0) (now cached); call B; return SLOAD(0) and the call's status."""
    call_args = "6000" * 4  # retSize, retOffset, argsSize, argsOffset = 0
    if call_opcode in (0xF1, 0xF2):  # CALL and CALLCODE also take a value
        call_args += "6000"
    return bytes.fromhex(
        "6001600055"  # SSTORE(0, 1)
        "60005450"  # SLOAD(0); POP
        + call_args
        + "73"
        + CONTRACT_B.hex()
        + "5a"  # GAS
        + f"{call_opcode:02x}"
        + "602052"  # MSTORE(32, status)
        "600054600052"  # MSTORE(0, SLOAD(0))
        "60406000f3"  # RETURN(0, 64)
    )


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize(
    "child", [CHILD_WRITES, CHILD_WRITES_THEN_REVERTS], ids=["writes", "reverts"]
)
@pytest.mark.parametrize(
    "call_opcode", [0xF4, 0xF2, 0xF1], ids=["delegatecall", "callcode", "call"]
)
def test_a_slot_read_after_a_child_matches_pyevm(
    backend: str, child: bytes, call_opcode: int
) -> None:
    codes = {CONTRACT_A: _parent(call_opcode), CONTRACT_B: child}
    expected = execute(CancunVM, codes)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes) == expected
    assert expected.success
    stored = int.from_bytes(expected.output[:32], "big")
    # DELEGATECALL and CALLCODE children write A's storage; CALL writes B's.
    writes_parent = call_opcode != 0xF1 and child is CHILD_WRITES
    assert stored == (2 if writes_parent else 1)


def _push32(value: int) -> str:
    return "7f" + value.to_bytes(32, "big").hex()


# Slots with bits in every 64-bit limb, so that the LLVM backend's table of known
# slots sees colliding indices and grows while the frame runs.
SLOTS = [(i * 0x9E3779B97F4A7C15_0000000000000001 << 64) + i * 7 for i in range(300)]


def _read_all(order: list[int]) -> str:
    return "".join(_push32(SLOTS[i]) + "5401" for i in order)  # acc += SLOAD(slot)


def test_many_slots_read_written_and_read_again_match_pyevm_on_every_backend() -> None:
    """300 slots read (cold), read again in reverse (known), half rewritten, read again."""
    rewrite = "".join(_push32(i + 1000) + _push32(SLOTS[i]) + "55" for i in range(0, 300, 2))
    code = bytes.fromhex(
        "5f"  # acc = 0
        + _read_all(list(range(300)))
        + _read_all(list(reversed(range(300))))
        + rewrite
        + _read_all(list(range(300)))
        + "5f5260205ff3"  # RETURN acc
    )
    storage = {CONTRACT_A: {slot: slot % 9973 + 1 for slot in SLOTS}}
    codes = {CONTRACT_A: code}
    expected = execute(CancunVM, codes, storage=storage, gas=5_000_000)
    assert expected.success
    for backend in ("ir", "llvm", "wasm"):
        vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
        assert execute(vm_class, codes, storage=storage, gas=5_000_000) == expected, backend


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
def test_a_known_slot_runs_out_of_gas_exactly_where_pyevm_does(backend: str) -> None:
    """One cold SLOAD, then warm ones (answered natively by llvm) until the gas ends."""
    code = bytes.fromhex("5f5450" * 40 + "00")  # (SLOAD(0); POP) x 40; STOP
    codes = {CONTRACT_A: code}
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    cold = 21_000 + 2 + 2_100 + 2
    endings = set()
    for extra in [0, 1, 98, 99, 100, 101, 104, 105, 106, 500, 3_000, 4_055, 4_056, 4_100]:
        expected = execute(CancunVM, codes, gas=cold + extra)
        assert execute(vm_class, codes, gas=cold + extra) == expected, extra
        endings.add(expected.success)
    assert endings == {True, False}  # the grid straddles the last SLOAD's price


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
def test_known_slots_do_not_outlive_their_frame(backend: str) -> None:
    """One VM class (compiled code and wasm instances reused) across transactions
    whose pre-states differ: each reads its own value of the slot, at the cold price."""
    code = bytes.fromhex("5f545f5260205ff3")  # RETURN SLOAD(0)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    for value in (5, 9, 0, 7):
        storage = {CONTRACT_A: {0: value} if value else {}}
        expected = execute(CancunVM, {CONTRACT_A: code}, storage=storage)
        assert int.from_bytes(expected.output, "big") == value
        assert execute(vm_class, {CONTRACT_A: code}, storage=storage) == expected
