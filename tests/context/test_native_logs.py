"""Logs buffered in native code reach py-evm in the interpreter's order, with its results.

Both native backends buffer logs (the LLVM backend in ``LogBuffer``, the wasm
backend in its module's log region).  The buffer holds a hundred entries or
more; beyond that, and for a log larger than
the buffer, LOG takes the builtin's path, which must first hand over what is
buffered.  A child frame's logs come after the parent's earlier ones and
before its later ones; a static frame's LOG halts; a reverted frame's logs
vanish.
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.backend_llvm.log_buffer import CAPACITY
from evmkiln.backend_wasm.layout import LOG_CAPACITY
from evmkiln.builtins.log_entries import entry_bytes
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, execute

BUFFERS = {"llvm": CAPACITY, "wasm": LOG_CAPACITY}
"""Each native backend's log buffer, in bytes."""
VM_CLASSES = {
    name: make_vm_class(name, interpret_on_compile_error=False, fork="cancun") for name in BUFFERS
}
backends = pytest.mark.parametrize("backend", sorted(BUFFERS))


def _asm(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _push2(value: int) -> str:
    return f"61{value:04x}"


def _push3(value: int) -> str:
    return f"62{value:06x}"


def _log_loop(count: int, size: int, then: str = "", at: int = 0) -> bytes:
    """``count`` times: LOG2(0, size, i, 0xbeef) with memory holding i; then ``then``; STOP.

    ``at``: where the code will be placed (the loop jumps back to ``at + 1``).
    """
    # stack: i
    body = (
        "5b"  # JUMPDEST (the loop head, at + 1)
        "80 5f 52"  # MSTORE(0, i)
        "61beef 81" + _push2(size) + "5f a2"  # LOG2(0, size, i, 0xbeef)
        "6001 01"  # i += 1
        "80"
        + _push2(count)
        + "11"  # count > i
        + _push2(at + 1)
        + "57"  # JUMPI to the head
    )
    return _asm("5f" + body + "50" + then + "00")


CALL_B = "5f5f5f5f5f 73" + CONTRACT_B.hex() + " 5a f1 50"
STATICCALL_B = "5f5f5f5f 73" + CONTRACT_B.hex() + " 5a fa 5f52 60205ff3"
CHILD_LOGS = _asm("60aa 5f5f a1 00")  # LOG1(0, 0, 0xaa)


@backends
@pytest.mark.parametrize("fills", [0, 2])
def test_many_logs_past_the_buffer_match_pyevm(backend: str, fills: int) -> None:
    count = fills * BUFFERS[backend] // entry_bytes(2, 32) + 7 if fills else 1
    codes = {CONTRACT_A: _log_loop(count, 32)}
    expected = execute(CancunVM, codes, gas=10_000_000)
    assert expected.success and len(expected.logs) == count
    assert execute(VM_CLASSES[backend], codes, gas=10_000_000) == expected


@backends
def test_a_childs_logs_come_between_the_parents(backend: str) -> None:
    first = _log_loop(3, 5, then=CALL_B)[:-1]
    parent = first + _log_loop(2, 7, at=len(first))
    codes = {CONTRACT_A: parent, CONTRACT_B: CHILD_LOGS}
    expected = execute(CancunVM, codes, gas=2_000_000)
    assert [topics[0] for _, topics, _ in expected.logs if topics] == [0, 1, 2, 0xAA, 0, 1]
    assert execute(VM_CLASSES[backend], codes, gas=2_000_000) == expected


@backends
def test_a_log_larger_than_the_buffer_takes_the_builtin_after_the_buffered_ones(
    backend: str,
) -> None:
    big = BUFFERS[backend] + 100
    code = _asm("6001 5f5f a1" + "6002" + _push3(big) + "5f a1 00")  # LOG1 empty, LOG1 big
    codes = {CONTRACT_A: code}
    expected = execute(CancunVM, codes, gas=5_000_000)
    assert [len(data) for _, _, data in expected.logs] == [0, big]
    assert execute(VM_CLASSES[backend], codes, gas=5_000_000) == expected


@backends
@pytest.mark.parametrize(
    ("child", "gas"),
    [
        (CHILD_LOGS, 1_000_000),  # a static child's LOG halts
        (_asm("60aa 5f 6401000000005f a1 00"), 1_000_000),  # data size past 2**32
        (_asm("60aa 6120005f a1 00"), 1_000_000),  # fine: 8 KiB of zero memory
        (_asm("60aa 5f5f a1 5ffe"), 1_000_000),  # logs, then INVALID: logs vanish
    ],
    ids=["static", "huge-size", "expands", "halts-after"],
)
def test_log_edge_cases_match_pyevm(backend: str, child: bytes, gas: int) -> None:
    call = STATICCALL_B if child is CHILD_LOGS else CALL_B + "00"
    codes = {CONTRACT_A: _asm(call), CONTRACT_B: child}
    expected = execute(CancunVM, codes, gas=gas)
    assert execute(VM_CLASSES[backend], codes, gas=gas) == expected


@backends
def test_out_of_gas_in_the_data_charge_matches_pyevm(backend: str) -> None:
    codes = {CONTRACT_A: _log_loop(1, 4000)}
    for gas in (21_000 + 600, 21_000 + 32_000, 21_000 + 60_000):
        assert execute(VM_CLASSES[backend], codes, gas=gas) == execute(CancunVM, codes, gas=gas)


@backends
def test_buffered_logs_do_not_cross(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hundred small logs reach the host in one hand-over, not one crossing each."""
    from evmkiln.context.pyevm_host import PyEvmHost

    handovers: list[int] = []
    original = PyEvmHost.emit_logs

    def counting(
        self: PyEvmHost, address: bytes, logs: list[tuple[tuple[int, ...], bytes]]
    ) -> None:
        handovers.append(len(logs))
        original(self, address, logs)

    monkeypatch.setattr(PyEvmHost, "emit_logs", counting)
    codes = {CONTRACT_A: _log_loop(100, 32)}
    expected = execute(CancunVM, codes, gas=2_000_000)
    assert execute(VM_CLASSES[backend], codes, gas=2_000_000) == expected
    assert handovers == [100]
