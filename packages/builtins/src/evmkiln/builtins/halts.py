"""Exceptional halts shared by every layer.

Compiled code, the reference interpreter and the builtins all stop a frame the
same way: by raising :class:`ExceptionalHalt` with a :class:`HaltKind`.  The
context maps each kind onto the interpreter's own exception class so that the
wrapped VM burns gas and reverts exactly as it would have done itself.
"""

from __future__ import annotations

import enum


class HaltKind(enum.IntEnum):
    """Why a frame stopped with an exceptional halt (all of them burn all gas)."""

    OUT_OF_GAS = 1
    STACK_UNDERFLOW = 2
    STACK_OVERFLOW = 3
    INVALID_OPCODE = 4
    INVALID_JUMP = 5
    WRITE_PROTECTION = 6
    RETURNDATA_OUT_OF_BOUNDS = 7
    INVALID_INSTRUCTION = 8  # the designated INVALID opcode 0xFE
    CREATE_COLLISION = 9
    CODE_SIZE_LIMIT = 10
    INVALID_CODE_PREFIX = 11


class ExceptionalHalt(Exception):
    """Raised to stop the current frame with an exceptional halt.

    ``facts`` are the values behind the halt where the raising code knows them
    (``needed``, ``remaining`` and ``reason`` for out of gas; ``offset``,
    ``size`` and ``available`` for a return-data read): the context words
    py-evm's own message from them.  Halts raised by generated code carry none.
    """

    def __init__(self, kind: HaltKind, detail: str = "", **facts: int | str) -> None:
        super().__init__(f"{kind.name}{': ' + detail if detail else ''}")
        self.kind = kind
        self.detail = detail
        self.facts = facts
