"""Run states are reused between frames: nothing of one run may show in the next."""

from __future__ import annotations

from llvm_harness import LLVM, asm, make_frame, push

from evmkiln.backend_llvm import builtin_bridge, frame_memory
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.codegen.backend import CompileOptions, ExitKind
from evmkiln.codegen.pipeline import lower_bytecode

FILL = asm(0x36, push(0), push(0), 0x37, 0x59, push(0), 0xF3)
"""Copy all the call data to memory 0 and return the memory."""
READ = asm(push(5000), 0x51, 0x50, 0x59, push(0), 0xF3)
"""MLOAD at 5000 (growing memory past the 4 KiB first buffer) and return the memory."""
INVALID = asm(push(1), push(2), 0xFE)


def _run(code: bytes, calldata: bytes = b"") -> tuple[ExitKind | str, bytes, bytearray]:
    frame = make_frame(code, 1_000_000, calldata)
    executable = LLVM.compile(lower_bytecode(code), CompileOptions())
    try:
        result: ExitKind | str = executable.run(frame)
    except ExceptionalHalt as halt:
        result = halt.kind.name
    return result, frame.output, frame.memory


def test_memory_of_an_earlier_run_reads_as_zero() -> None:
    dirty = b"\xff" * 6000
    assert _run(FILL, dirty)[1] == dirty + bytes(32 - 6000 % 32)
    result, output, memory = _run(READ)
    assert result is ExitKind.RETURN
    assert output == bytes(5056) and memory == bytearray(5056)  # 158 words


def test_a_halt_leaves_nothing_behind() -> None:
    assert _run(INVALID)[0] == HaltKind.INVALID_INSTRUCTION.name
    result, output, _ = _run(asm(push(7), push(0), 0x52, push(32), push(0), 0xF3))
    assert (result, output) == (ExitKind.RETURN, (7).to_bytes(32, "big"))


def test_states_are_reused_not_accumulated() -> None:
    first = builtin_bridge.RunState.begin(make_frame(FILL, 1000))
    first.end()
    second = builtin_bridge.RunState.begin(make_frame(READ, 1000))
    assert second is first  # the idle state is taken, not a new one made
    second.end()
    idle = len(builtin_bridge._IDLE)
    for _ in range(50):
        _run(FILL, b"\x01" * 100)
    assert len(builtin_bridge._IDLE) == idle
    assert not builtin_bridge._ACTIVE


def test_a_grown_memory_is_kept_for_the_next_run_and_claimed_by_it() -> None:
    """The second run of a frame that grows memory to 6,000 bytes finds the capacity it
    needs (no reallocation) and all zeros; while it runs the buffer is not idle."""
    dirty = b"\xfe" * 6000
    assert _run(FILL, dirty)[1] == dirty + bytes(32 - 6000 % 32)
    state = builtin_bridge._IDLE[-1]
    kept, pointer = state.memory.kept, state.ctx.mem_ptr
    assert kept > 0 and frame_memory._KEPT[0] >= kept
    during = builtin_bridge.RunState.begin(make_frame(READ, 1000))
    assert during is state and during.memory.kept == 0
    during.memory.grow_to(6000)
    assert during.ctx.mem_ptr == pointer  # no reallocation
    assert during.memory[:6000] == bytes(6000)
    during.end()
    assert state.memory.kept == kept
