"""Which contracts never nest: no instruction of theirs runs another frame.

A top-level wasm run that may nest needs native stack for 1,024 levels and
moves to a helper thread when its caller's thread is smaller (see
:mod:`.runtime`); one that cannot nest stays where it is.  Compiled code
reaches another frame only through a builtin flagged ``runs_frames`` (the
CALL and CREATE families), so a module that calls none of them is a leaf.
"""

from __future__ import annotations

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.evm.bytecode import instruction_pcs
from evmkiln.codegen.ir.function import Function

_FRAME_BUILTINS = frozenset(name for name, sig in BUILTINS.items() if sig.runs_frames)
_FRAME_OPCODES = frozenset(
    sig.opcode for sig in BUILTINS.values() if sig.runs_frames and sig.opcode is not None
)
_FRAME_OPCODE_BYTES = bytes(sorted(_FRAME_OPCODES))


def function_runs_no_frames(function: Function) -> bool:
    """Whether no instruction of the lowered ``function`` calls a frame-running builtin."""
    return not any(
        inst.opcode == "call" and inst.imms and inst.imms[0] in _FRAME_BUILTINS
        for block in function.blocks
        for inst in block.insts
    )


def runs_no_frames(code: bytes) -> bool:
    """Whether no instruction of ``code`` is one whose builtin runs frames.

    For code whose lowered function is not at hand (a module loaded from an
    artifact).  Bytes inside PUSH data are not instructions: when one of the
    opcodes' bytes occurs at all, the code is walked instruction by
    instruction.
    """
    if not any(code.find(op) >= 0 for op in _FRAME_OPCODE_BYTES):
        return True
    return not any(code[pc] in _FRAME_OPCODES for pc in instruction_pcs(code))
