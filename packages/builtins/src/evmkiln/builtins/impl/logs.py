"""LOG0..LOG4.

The static 375 is charged by the IR; here: the static-context check, 8 gas
per data byte and 375 per topic (charged before memory expansion, as py-evm
does), the expansion, then the log entry.  Topics arrive in stack order,
which is the order they are recorded in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.gas import LOG_DATA_BYTE, LOG_TOPIC, charge
from evmkiln.builtins.memory import expand, read

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def _log(frame: Frame, offset: int, size: int, topics: tuple[int, ...]) -> None:
    if frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "LOG in a static frame")
    charge(frame, LOG_DATA_BYTE * size + LOG_TOPIC * len(topics))
    expand(frame, offset, size)
    frame.host.emit_log(frame.address, topics, read(frame, offset, size))


def log0(frame: Frame, offset: int, size: int) -> None:
    _log(frame, offset, size, ())


def log1(frame: Frame, offset: int, size: int, t0: int) -> None:
    _log(frame, offset, size, (t0,))


def log2(frame: Frame, offset: int, size: int, t0: int, t1: int) -> None:
    _log(frame, offset, size, (t0, t1))


def log3(frame: Frame, offset: int, size: int, t0: int, t1: int, t2: int) -> None:
    _log(frame, offset, size, (t0, t1, t2))


def log4(frame: Frame, offset: int, size: int, t0: int, t1: int, t2: int, t3: int) -> None:
    _log(frame, offset, size, (t0, t1, t2, t3))
