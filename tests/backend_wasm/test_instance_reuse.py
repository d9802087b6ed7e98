"""Reused wasm instances never carry state from one frame into the next.

A :class:`~evmkiln.backend_wasm.runtime.CompiledContract` keeps one store and
a pool of instances for the life of the executable, so the frame after a
previous one -- in the next transaction, or the next call in the same
transaction -- runs in linear memory that earlier frames wrote.  The runtime
resets EVM memory and the control area on entry, but not the stack buffer:
generated code reads a stack word only where its own frame wrote one.  These
tests leave as much behind as possible (memory far out, a deep stack, an
output range, a low gas counter) and end the dirtying frame every way a frame
can end -- REVERT, RETURN, INVALID, out of gas in a loop, a halt raised by a
builtin -- and then check what the next frame sees: through the EVM (MSIZE,
MLOAD, RETURNDATASIZE, GAS, stack words carried by a dynamic jump, against
the reference backend and py-evm) and directly in the instance's linear
memory at its first host crossing.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from wasm_compare import ADDRESS, REFERENCE, WASM, FakeHost, new_frame

from evmkiln.backend_wasm.layout import ARGS, CTRL_MSIZE, CTRL_SL_GEN, PAGE, STACK, STACK_BYTES
from evmkiln.backend_wasm.runtime import _THREAD, CompiledContract
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.memory_view import ZERO_RUN
from evmkiln.codegen.backend import Executable
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context import make_vm_class
from evmkiln.fuzz.execute import CONTRACT_A, execute

OPS = {
    "STOP": 0x00, "ADD": 0x01, "SUB": 0x03, "EQ": 0x14, "ISZERO": 0x15, "SHR": 0x1C,
    "ADDRESS": 0x30, "BALANCE": 0x31, "CALLDATALOAD": 0x35, "RETURNDATASIZE": 0x3D,
    "RETURNDATACOPY": 0x3E, "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "MSTORE8": 0x53,
    "JUMP": 0x56, "JUMPI": 0x57, "MSIZE": 0x59, "GAS": 0x5A, "JUMPDEST": 0x5B, "PUSH0": 0x5F,
    "DUP1": 0x80, "SWAP1": 0x90, "CALL": 0xF1, "RETURN": 0xF3, "REVERT": 0xFD, "INVALID": 0xFE,
}  # fmt: skip

Item = str | int | tuple[str, str]


def assemble(*items: Item) -> bytes:
    """Opcode names, ints (pushed with the shortest PUSH), ``("label", L)`` and ``("@", L)``.

    ``("@", L)`` pushes the label's offset with PUSH2; two passes resolve it.
    """
    labels: dict[str, int] = {}
    for final in (False, True):
        out = bytearray()
        for item in items:
            if isinstance(item, tuple):
                kind, name = item
                if kind == "label":
                    labels[name] = len(out)
                    out.append(OPS["JUMPDEST"])
                else:
                    out += bytes([0x61]) + labels.get(name, 0).to_bytes(2, "big")
            elif isinstance(item, int):
                if item == 0:
                    out.append(OPS["PUSH0"])
                else:
                    n = (item.bit_length() + 7) // 8
                    out += bytes([0x5F + n]) + item.to_bytes(n, "big")
            else:
                out.append(OPS[item])
        if final:
            return bytes(out)
    raise AssertionError("unreachable")


FILL = int.from_bytes(bytes(range(0xA0, 0xC0)), "big")
DIRTY: list[Item] = [
    FILL, 0, "MSTORE",  # memory word 0
    FILL, 0x2000, "MSTORE",  # far out: msize 0x2020
    0x77, 0x3FFF, "MSTORE8",  # msize 0x4000
    *[FILL] * 40,  # a deep stack, left behind
]  # fmt: skip


def mode(n: int, *body: Item) -> list[Item]:
    """Dirty, leave by a dynamic jump (so the stack is spilled to the buffer), let the
    host look, end.  The jump target is ``dirty<n> + calldata[0] - n``."""
    jump: list[Item] = [0, "CALLDATALOAD", ("@", f"dirty{n}"), "ADD", n, "SWAP1", "SUB", "JUMP"]
    look: list[Item] = ["ADDRESS", "BALANCE", "POP"]
    return [("label", f"mode{n}"), *DIRTY, *jump, ("label", f"dirty{n}"), *look, *body]


# Calldata word 0 picks what a frame does.  0 observes; the others dirty the
# instance and then end in their own way; 6 runs two child frames of this
# same contract in one "transaction" (dirty-and-revert, then observe) and
# returns the second one's observation.
CONTRACT = assemble(
    0, "CALLDATALOAD",
    *[x for n in range(1, 9) for x in ("DUP1", n, "EQ", ("@", f"mode{n}"), "JUMPI")],
    # mode 0: observe.  BALANCE crosses into the host first (the white-box check).
    "ADDRESS", "BALANCE", "POP",
    "MSIZE", 0, "MSTORE",
    0, "MLOAD", 0x20, "MSTORE",
    0x2000, "MLOAD", 0x40, "MSTORE",
    0x3FE0, "MLOAD", 0x60, "MSTORE",
    "RETURNDATASIZE", 0x80, "MSTORE",
    "GAS", 0xA0, "MSTORE",
    0xC0, 0, "RETURN",
    *mode(1, 0x40, 0x1F00, "REVERT"),
    *mode(2, 0x40, 0x1F00, "RETURN"),
    *mode(3, "INVALID"),
    *mode(4, ("label", "spin"), ("@", "spin"), "JUMP"),  # out of gas
    *mode(5, 0x40, 0, 0, "RETURNDATACOPY"),  # out of bounds: the builtin halts
    ("label", "mode6"),
    # CALL(gas, ADDRESS, 0, in=0..32 holding 1, out none); then CALL itself with
    # mode 0 and keep the 0xc0-byte observation at 0x100.
    1, 0, "MSTORE",
    0, 0, 0x20, 0, 0, "ADDRESS", "GAS", "CALL", "POP",
    0, 0, "MSTORE",
    0xC0, 0x100, 0x20, 0, 0, "ADDRESS", "GAS", "CALL", "POP",
    0xC0, 0x100, "RETURN",
    # Modes 7 and 8 read the stack buffer, which the runtime does not clear: a
    # dynamic jump (target from call data, so the stack is spilled) carries two
    # words to a block that adds them (8) or asks for a third (7: underflow).
    ("label", "mode7"), "POP", 5, 6, 0x20, "CALLDATALOAD", "JUMP",
    ("label", "add3"), "ADD", "ADD", 0, "MSTORE", 0x20, 0, "RETURN",
    ("label", "mode8"), "POP", 5, 6, 0x20, "CALLDATALOAD", "JUMP",
    ("label", "add2"), "ADD", 0, "MSTORE", 0x20, 0, "RETURN",
)  # fmt: skip

MODES = {1: "revert", 2: "return", 3: "invalid", 4: "out of gas", 5: "builtin halt"}


def stack_readers() -> list[bytes]:
    """Call data for modes 7 (underflow) and 8 (adds the two words it carried)."""
    jumpdests = [i for i, byte in enumerate(CONTRACT) if byte == OPS["JUMPDEST"]]
    # The last four JUMPDESTs are mode7, add3, mode8, add2, in that order.
    _, add3, _, add2 = jumpdests[-4:]
    return [calldata(7) + calldata(add3), calldata(8) + calldata(add2)]


def calldata(n: int) -> bytes:
    return n.to_bytes(32, "big")


class InspectingHost(FakeHost):
    """A host that, at the first crossing of every frame, looks at the instance running it."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[dict[str, int]] = []

    def get_balance(self, address: bytes) -> int:
        slot = _THREAD.active[-1]
        base = slot.base
        total = slot.memory.size(slot.store) * PAGE
        evm = ctypes.string_at(slot.addr + base, total - base)
        stack = ctypes.string_at(slot.addr + STACK, STACK_BYTES)
        header = bytes(slot.header[:ARGS])
        self.seen.append(
            {
                "evm_nonzero": sum(1 for b in evm if b),
                "msize": int.from_bytes(header[CTRL_MSIZE : CTRL_MSIZE + 8], "little"),
                "stack_words": sum(1 for i in range(0, STACK_BYTES, 32) if any(stack[i : i + 32])),
                # The storage generation survives frames by design (its test:
                # test_known_slots_do_not_outlive_their_frame).
                "header_other": sum(
                    1 for i, b in enumerate(header[16:], 16) if b and not 0 <= i - CTRL_SL_GEN < 8
                ),
            }
        )
        return super().get_balance(address)


def run_frame(exe: Executable, host: FakeHost, data: bytes, gas: int) -> tuple[object, ...]:
    frame = new_frame(host, CONTRACT, gas, data)
    try:
        result: object = exe.run(frame)
        left: object = frame.gas
        memory: object = bytes(frame.memory)
    except ExceptionalHalt as halt:
        result, left, memory = ("halt", halt.kind), None, None
    return (result, frame.output, left, memory)


def fresh(data: bytes, gas: int) -> tuple[object, ...]:
    """The reference backend's outcome of one frame with nothing before it."""
    host = FakeHost(REFERENCE, codes={ADDRESS: CONTRACT})
    return run_frame(REFERENCE.compile(lower_bytecode(CONTRACT)), host, data, gas)


@pytest.fixture
def exe() -> Executable:
    """A new executable per test: its pool starts empty, so reuse is deliberate."""
    return WASM.compile(lower_bytecode(CONTRACT))


def contract_of(exe: Executable) -> CompiledContract:
    contract = getattr(exe, "contract", None)
    assert isinstance(contract, CompiledContract)
    return contract


def test_the_module_keeps_no_state_outside_linear_memory(exe: Executable) -> None:
    """No globals and no tables: linear memory, reset on entry, is all there is."""
    wasm = getattr(exe, "wasm", b"")
    assert wasm[:8] == b"\0asm\1\0\0\0"
    sections, at = [], 8
    while at < len(wasm):
        ident, at = wasm[at], at + 1
        size = shift = 0
        while True:
            byte, at = wasm[at], at + 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        sections.append(ident)
        at += size
    assert 6 not in sections, "a global section: reset its globals before each run"
    assert 4 not in sections, "a table section: reset its tables before each run"


@pytest.mark.parametrize("dirty", sorted(MODES), ids=[MODES[n] for n in sorted(MODES)])
def test_next_frame_sees_nothing_of_the_previous_one(exe: Executable, dirty: int) -> None:
    gas = 60_000
    contract = contract_of(exe)
    host = InspectingHost(backend=WASM, codes={ADDRESS: CONTRACT})
    before = run_frame(exe, host, calldata(dirty), gas)
    assert before == fresh(calldata(dirty), gas)
    if dirty == 4:
        assert before[0] == ("halt", HaltKind.OUT_OF_GAS)
    # Two observations on the reused instance, with different gas: each as if run first.
    for observe_gas in (gas, 1_000_000):
        after = run_frame(exe, host, calldata(0), observe_gas)
        assert after == fresh(calldata(0), observe_gas)
        output = after[1]
        assert isinstance(output, bytes)
        words = [int.from_bytes(output[i : i + 32], "big") for i in range(0, len(output), 32)]
        assert words[:5] == [0, 0, 0, 0, 0]  # msize, three memory words, returndata size
    # Frames that read the stack buffer the dirtying frame filled: only their own words.
    seven, eight = (run_frame(exe, host, data, gas) for data in stack_readers())
    assert seven == fresh(stack_readers()[0], gas)
    assert seven[0] == ("halt", HaltKind.STACK_UNDERFLOW)
    assert eight == fresh(stack_readers()[1], gas)
    assert eight[1] == (11).to_bytes(32, "big")
    assert contract.instances == 1  # one instance served every frame
    dirtied, *observed = host.seen
    assert dirtied["msize"] == 0x4000 and dirtied["evm_nonzero"] > 64
    assert dirtied["stack_words"] >= 40
    assert [clean(seen) for seen in observed] == [CLEAN, CLEAN]


CLEAN = {"evm_nonzero": 0, "msize": 0, "header_other": 0}
"""What an observing frame's instance holds at its first crossing (gas aside)."""


def clean(seen: dict[str, int]) -> dict[str, int]:
    """An observation less the stack buffer, which is left as the last frame wrote it
    (generated code reads only words its own frame wrote: checked through modes 7, 8)."""
    return {key: value for key, value in seen.items() if key != "stack_words"}


def test_frames_of_one_transaction_share_an_instance_cleanly(exe: Executable) -> None:
    """Mode 6: a child dirties and reverts, the next child of the same parent observes."""
    host = InspectingHost(backend=WASM, codes={ADDRESS: CONTRACT})
    host.compiled[CONTRACT] = exe  # children run on the executable under test
    gas = 1_000_000
    outcome = run_frame(exe, host, calldata(6), gas)
    assert outcome == fresh(calldata(6), gas)
    # The parent holds one instance; the two children took turns on a second.
    assert contract_of(exe).instances == 2
    assert [seen["msize"] for seen in host.seen] == [0x4000, 0]
    assert clean(host.seen[1]) == CLEAN
    # Then a new "transaction" on the same executable: the parent's instance, then reused.
    again = run_frame(exe, host, calldata(6), gas)
    assert again == outcome and contract_of(exe).instances == 2


def test_a_host_error_does_not_poison_the_instance(exe: Executable) -> None:
    """An exception out of the host (not an EVM halt) leaves a usable, clean instance."""

    class Failing(FakeHost):
        def get_balance(self, address: bytes) -> int:
            raise RuntimeError("host failed")

    # Dirty first, then a frame whose host fails at its first crossing.
    host = FakeHost(WASM, codes={ADDRESS: CONTRACT})
    run_frame(exe, host, calldata(2), 60_000)
    with pytest.raises(RuntimeError, match="host failed"):
        run_frame(exe, Failing(WASM), calldata(0), 60_000)
    assert run_frame(exe, host, calldata(0), 60_000) == fresh(calldata(0), 60_000)
    assert contract_of(exe).instances == 1


# -- through py-evm --------------------------------------------------------------


def test_transactions_and_calls_through_pyevm_match_the_interpreter() -> None:
    """One VM class (one code cache, hence one instance pool per contract) over many
    transactions, each ending differently, interleaved with observations and with
    transactions whose frames reuse an instance (mode 6)."""
    kiln = make_vm_class("wasm", fork="cancun")
    codes = {CONTRACT_A: CONTRACT}
    for n in [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 6]:
        gas = 80_000 if n == 4 else 1_000_000
        got = execute(kiln, codes, data=calldata(n), gas=gas)
        assert got == execute(CancunVM, codes, data=calldata(n), gas=gas), n
    stats = kiln.stats  # type: ignore[attr-defined]
    assert stats.frames_compiled == 1 and stats.frames_run_compiled == 13 + 2 * 2


# Beyond the first ZERO_RUN bytes of EVM memory, the runtime clears memory and
# reads output by other means than within them: both must behave alike.
FAR = ZERO_RUN + 0x1000
BIG = assemble(
    0, "CALLDATALOAD", ("@", "observe"), "JUMPI",
    FILL, FAR - 0x20, "MSTORE", 0x77, FAR, "MSTORE8",  # msize past ZERO_RUN
    FILL, 0x20, "MSTORE",
    0x60, FAR - 0x30, "RETURN",  # output read from past ZERO_RUN
    ("label", "observe"),
    "MSIZE", 0, "MSTORE", FAR - 0x20, "MLOAD", 0x20, "MSTORE", 0x40, 0, "RETURN",
)  # fmt: skip


@pytest.mark.parametrize("small_first", [False, True])
def test_memory_past_the_cleared_view_is_cleared_and_returned_alike(small_first: bool) -> None:
    exe = WASM.compile(lower_bytecode(BIG))
    reference = REFERENCE.compile(lower_bytecode(BIG))

    def run(executable: Executable, backend: Any, data: bytes) -> tuple[object, ...]:
        frame = new_frame(FakeHost(backend, codes={ADDRESS: BIG}), BIG, 100_000, data)
        return (executable.run(frame), frame.output, frame.gas)

    if small_first:  # the instance has run a frame with little memory before
        assert run(exe, WASM, calldata(1)) == run(reference, REFERENCE, calldata(1))
    dirty = run(exe, WASM, calldata(0))
    assert dirty == run(reference, REFERENCE, calldata(0))
    output = dirty[1]
    assert isinstance(output, bytes)
    assert output[0x10:0x30] == FILL.to_bytes(32, "big") and output[0x30] == 0x77
    observed = run(exe, WASM, calldata(1))
    assert observed == run(reference, REFERENCE, calldata(1))
    assert observed[1] == bytes(64)  # msize 0 and the far word cleared
    assert contract_of(exe).instances == 1
