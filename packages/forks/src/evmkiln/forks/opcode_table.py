"""Opcode tables of evmkiln's own, free of what other tools left in py-evm's shared ones.

py-evm keeps each fork's opcode table in one dictionary, shared by the fork's
computation class and every subclass that does not assign a table of its own.
A tool that subclasses the computation class and then assigns into
``subclass.opcodes[...]`` therefore patches every VM of that fork in the
process.  titanoboa does exactly that when it builds an environment, which
happens when it is imported -- and pytest imports it in every test process
once it is installed (its plugin is registered as an entry point): its
KECCAK256 and SSTORE tracers end up in py-evm's shared Prague table.  They
only record into titanoboa's own environment, so for any other VM they
observe nothing anyone reads; but they are objects evmkiln cannot compile,
so every frame of that fork would run on the interpreter, and they hold
generators, so the table can no longer be deep-copied (as a new fork's table
is built from the previous fork's).

:func:`own_table` copies a table with such wrappers taken off: an entry that
is not one of py-evm's opcodes but keeps one (it wraps it, calling it) is
replaced by the opcode it wraps.  evmkiln's computation classes each get a
table of their own this way, when the class is made; tools that patch *that*
table (or a subclass's) still send the frames concerned to the interpreter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eth.abc import OpcodeAPI

_PYEVM_MODULES = ("eth.", "evmkiln.")
log = logging.getLogger("evmkiln.forks")


def is_pyevm_opcode(fn: Any) -> bool:
    """``fn`` is py-evm's (or evmkiln's fork code's): an ``OpcodeAPI`` or a function of theirs.

    Cancun's deprecated SELFDESTRUCT is a plain function of py-evm's modules.
    """
    if isinstance(fn, OpcodeAPI):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module.startswith(_PYEVM_MODULES)


def wrapped(fn: Any) -> Any | None:
    """What a foreign wrapper wraps: the one py-evm opcode among its attributes, else
    the one other callable object (a wrapper of a wrapper), else None.

    With several candidates, what the wrapper runs cannot be told.
    """
    attributes = getattr(fn, "__dict__", None)
    if not isinstance(attributes, dict):
        return None
    opcodes = [value for value in attributes.values() if is_pyevm_opcode(value)]
    if opcodes:
        return opcodes[0] if len(opcodes) == 1 else None
    inner = [
        value
        for value in attributes.values()
        if callable(value) and not isinstance(value, type) and hasattr(value, "__dict__")
    ]
    return inner[0] if len(inner) == 1 else None


def unwrapped(fn: Any) -> Any:
    """The py-evm opcode under ``fn``'s layers of foreign wrapping; ``fn`` if there is none."""
    current = fn
    for _ in range(64):  # wrappers of wrappers, never a cycle
        if is_pyevm_opcode(current):
            return current
        inner = wrapped(current)
        if inner is None:
            break
        current = inner
    return fn


class OpcodeTable(dict[int, Any]):
    """An opcode table that knows, without a scan, which of its entries are not py-evm's.

    The dispatching VM asks before every compiled frame whether a tool has
    patched the table (then the frame must be interpreted).  Tools patch in
    place, at any time; a plain dictionary would have to be scanned, or
    compared with a copy, at every frame.  This one remembers its foreign
    entries and forgets them whenever it changes.  Lookups are the
    dictionary's own, as fast as py-evm's table.
    """

    __slots__ = ("_foreign", "known_own", "taken_off")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._foreign: tuple[tuple[int, Any], ...] | None = None
        self.known_own = False
        """Every entry is known, without a scan, to be py-evm's own: :meth:`foreign`
        found none foreign and the table has not changed since (read before every
        compiled frame, so an attribute, not a call)."""
        self.taken_off: tuple[tuple[int, str], ...] = ()
        """``(opcode, wrapper type)`` of the foreign wrappers :func:`own_table` took off."""

    def foreign(self) -> tuple[tuple[int, Any], ...]:
        """``(opcode, entry)`` for every entry that is not py-evm's, by opcode."""
        found = self._foreign
        if found is None:
            found = self._foreign = tuple(
                (value, fn) for value, fn in sorted(self.items()) if not is_pyevm_opcode(fn)
            )
            self.known_own = not found
        return found

    def __setitem__(self, key: int, value: Any) -> None:
        super().__setitem__(key, value)
        self._foreign = None
        self.known_own = False

    def __delitem__(self, key: int) -> None:
        super().__delitem__(key)
        self._foreign = None
        self.known_own = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._foreign = None
        self.known_own = False

    def setdefault(self, key: int, default: Any = None) -> Any:
        self._foreign = None
        self.known_own = False
        return super().setdefault(key, default)

    def pop(self, key: int, *default: Any) -> Any:
        self._foreign = None
        self.known_own = False
        return super().pop(key, *default)

    def popitem(self) -> tuple[int, Any]:
        self._foreign = None
        self.known_own = False
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self._foreign = None
        self.known_own = False

    def __ior__(self, other: Any) -> OpcodeTable:  # type: ignore[override,misc]
        super().update(other)
        self._foreign = None
        self.known_own = False
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


def own_table(table: Mapping[int, Any]) -> OpcodeTable:
    """A new table with ``table``'s opcodes, foreign wrappers taken off (see the module).

    What was taken off is kept in ``taken_off`` and logged, so that a wrapper
    someone put in py-evm's shared table on purpose is not dropped unseen.
    """
    own = OpcodeTable((value, unwrapped(fn)) for value, fn in table.items())
    own.taken_off = tuple(
        (value, type(fn).__name__) for value, fn in table.items() if own[value] is not fn
    )
    if own.taken_off:
        log.info(
            "opcode table: took off wrappers left in a shared py-evm table: %s",
            ", ".join(f"0x{value:02x} {name}" for value, name in own.taken_off),
        )
    return own
