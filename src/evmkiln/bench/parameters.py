"""Fixture inputs that can be scaled from the command line.

Some bench fixtures read a work size from their calldata (``fibonacci-calldata``
and ``factorial`` loop ``calldata[0:32]`` times).  A :class:`CalldataParameter`
names such a word so that ``--param fibonacci-calldata.iterations=1000000``
(or the shorthand ``--fib-iterations``) rewrites the transaction's data before
any engine sees it; every engine then runs the same, overridden transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from evmkiln.fixtures.transaction import TransactionSpec

WORD = 32


class ParameterError(ValueError):
    """An override that names no known parameter or has a malformed value."""


def check_word(value: int, name: str) -> int:
    """``value`` if a calldata word holds it, else a :class:`ParameterError` naming ``name``.

    Checked where the value is given, so that a command refuses it before a
    run rather than fail while writing it into a transaction.
    """
    if not 0 <= value < 2 ** (8 * WORD):
        raise ParameterError(f"{name} must be a 256-bit unsigned integer (0 to 2**256 - 1)")
    return value


@dataclass(frozen=True, slots=True)
class CalldataParameter:
    """A big-endian 256-bit word of a fixture's calldata that sets its work size."""

    fixture: str
    name: str
    offset: int
    description: str

    def read(self, data: bytes) -> int:
        """The parameter's value in ``data`` (missing bytes read as zero, as CALLDATALOAD does)."""
        word = data[self.offset : self.offset + WORD]
        return int.from_bytes(word.ljust(WORD, b"\0"), "big")

    def write(self, data: bytes, value: int) -> bytes:
        """``data`` with the parameter's word replaced by ``value`` (a :class:`ParameterError`
        unless a word holds it)."""
        check_word(value, f"{self.fixture}.{self.name}")
        padded = data.ljust(self.offset + WORD, b"\0")
        word = value.to_bytes(WORD, "big")
        return padded[: self.offset] + word + padded[self.offset + WORD :]


PARAMETERS: tuple[CalldataParameter, ...] = (
    CalldataParameter("fibonacci-calldata", "iterations", 0, "Fibonacci steps (calldata word 0)"),
    CalldataParameter("factorial", "iterations", 0, "factorial of n (calldata word 0)"),
)


def parameters_of(fixture: str) -> tuple[CalldataParameter, ...]:
    return tuple(p for p in PARAMETERS if p.fixture == fixture)


def find_parameter(fixture: str, name: str) -> CalldataParameter:
    for parameter in parameters_of(fixture):
        if parameter.name == name:
            return parameter
    known = ", ".join(f"{p.fixture}.{p.name}" for p in PARAMETERS)
    raise ParameterError(f"no parameter {fixture}.{name}; known: {known}")


def parse_override(text: str) -> tuple[str, str, int]:
    """``FIXTURE.NAME=VALUE`` (value decimal or 0x-hex) into its three parts."""
    key, sep, value = text.partition("=")
    fixture, dot, name = key.rpartition(".")
    if not sep or not dot or not fixture or not name:
        raise ParameterError(f"{text!r}: expected FIXTURE.NAME=VALUE")
    try:
        number = int(value, 0)
    except ValueError:
        raise ParameterError(f"{text!r}: {value!r} is not an integer") from None
    find_parameter(fixture, name)
    check_word(number, f"{text!r}: {key}")
    return fixture, name, number


Overrides = Mapping[tuple[str, str], int]
"""Values by ``(fixture, parameter name)``."""


def apply_overrides(
    fixture: str, spec: TransactionSpec, overrides: Overrides
) -> tuple[TransactionSpec, dict[str, int]]:
    """The transaction with this fixture's overrides applied, and all its parameter values."""
    data = spec.data
    for (name_fixture, name), value in overrides.items():
        if name_fixture == fixture:
            data = find_parameter(fixture, name).write(data, value)
    values = {p.name: p.read(data) for p in parameters_of(fixture)}
    if data == spec.data:
        return spec, values
    return dataclasses.replace(spec, data=data), values
