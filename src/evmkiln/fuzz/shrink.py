"""Shrinking a failing program to a small one that still fails.

Delta debugging by chunk removal: for each contract, first try without it,
then remove halves, quarters, ... down to single instructions, keeping every
removal after which the program still fails; then the same over the
calldata, the pre-state storage, the call value, and finally each PUSH's
value is tried as zero.  Passes repeat until none removes anything or the
budget (runs and seconds) is spent.

Instructions are the unit (a PUSH with its data is one), and removal keeps
jumps working where it can: a PUSH whose value is the pc of a JUMPDEST that
survives is rewritten to that JUMPDEST's new pc, so Solidity-style code
whose targets are pushed constants does not break with every removal
before a target.  Whether a candidate "still fails" is decided by the
caller (the same backend still disagrees, or still crashes its worker).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from evmkiln.codegen.evm.bytecode import decode
from evmkiln.fuzz.program import Program

T = TypeVar("T")


@dataclass
class Budget:
    """How much shrinking may cost: runs of the predicate, and wall time."""

    max_runs: int = 5_000
    seconds: float = 60.0
    runs: int = 0
    started: float = field(default_factory=time.monotonic)

    def spent(self) -> bool:
        return self.runs >= self.max_runs or time.monotonic() - self.started >= self.seconds


@dataclass(frozen=True)
class Unit:
    """One instruction: its pc in the original code and its bytes (opcode and data)."""

    pc: int
    data: bytes


def units(code: bytes) -> list[Unit]:
    out = []
    for instr in decode(code):
        end = min(instr.next_pc, len(code))
        out.append(Unit(instr.pc, code[instr.pc : end]))
    return out


def relink(kept: list[Unit]) -> bytes:
    """Lay ``kept`` out again, moving PUSHed JUMPDEST pcs to where those JUMPDESTs now are."""
    moved: dict[int, int] = {}
    pc = 0
    for unit in kept:
        if unit.data == b"\x5b":
            moved[unit.pc] = pc
        pc += len(unit.data)
    out = bytearray()
    for unit in kept:
        op = unit.data[0]
        width = op - 0x5F
        if 0x60 <= op <= 0x7F and len(unit.data) == 1 + width:
            target = int.from_bytes(unit.data[1:], "big")
            if target in moved:
                out.append(op)
                out += moved[target].to_bytes(width, "big")
                continue
        out += unit.data
    return bytes(out)


def remove_chunks(items: list[T], fails: Callable[[list[T]], bool], budget: Budget) -> list[T]:
    """The smallest sub-list found by removing ever smaller chunks while ``fails`` holds."""
    if not items:
        return items
    if not budget.spent() and fails([]):
        return []
    chunk = max(1, len(items) // 2)
    while True:
        start = 0
        while start < len(items) and not budget.spent():
            candidate = items[:start] + items[start + chunk :]
            if fails(candidate):
                items = candidate
            else:
                start += chunk
        if chunk == 1 or budget.spent():
            return items
        chunk //= 2


class Shrinker:
    """Shrinks programs for one failure predicate; remembers candidates already tried."""

    def __init__(self, still_fails: Callable[[Program], bool], budget: Budget) -> None:
        self._still_fails = still_fails
        self.budget = budget
        self._tried: dict[tuple[object, ...], bool] = {}

    def fails(self, program: Program) -> bool:
        key = (
            tuple(sorted(program.codes.items())),
            program.calldata,
            program.value,
            program.gas,
            tuple(sorted((a, tuple(sorted(s.items()))) for a, s in program.storage.items())),
        )
        if key not in self._tried:
            self.budget.runs += 1
            self._tried[key] = self._still_fails(program)
        return self._tried[key]

    def shrink(self, program: Program) -> Program:
        current = program
        while not self.budget.spent():
            before = current.size()
            for step in (self._contracts, self._codes, self._calldata, self._state, self._pushes):
                current = step(current)
            if current.size() >= before:
                break
        return current

    def _contracts(self, program: Program) -> Program:
        for address in sorted(program.codes):
            if address == program.to or self.budget.spent():
                continue
            codes = {a: c for a, c in program.codes.items() if a != address}
            candidate = dataclasses.replace(program, codes=codes)
            if self.fails(candidate):
                program = candidate
        return program

    def _codes(self, program: Program) -> Program:
        for address in sorted(program.codes):
            current = program

            def fails(kept: list[Unit], address: bytes = address, base: Program = current) -> bool:
                return self.fails(_with_code(base, address, relink(kept)))

            kept = remove_chunks(units(program.codes[address]), fails, self.budget)
            program = _with_code(program, address, relink(kept))
        return program

    def _calldata(self, program: Program) -> Program:
        def fails(kept: list[int]) -> bool:
            return self.fails(dataclasses.replace(program, calldata=bytes(kept)))

        kept = remove_chunks(list(program.calldata), fails, self.budget)
        return dataclasses.replace(program, calldata=bytes(kept))

    def _state(self, program: Program) -> Program:
        if program.value and self.fails(dataclasses.replace(program, value=0)):
            program = dataclasses.replace(program, value=0)
        slots = [(a, k, v) for a, s in sorted(program.storage.items()) for k, v in s.items()]

        def storage(kept: list[tuple[bytes, int, int]]) -> dict[bytes, dict[int, int]]:
            out: dict[bytes, dict[int, int]] = {}
            for address, key, value in kept:
                out.setdefault(address, {})[key] = value
            return out

        def fails(kept: list[tuple[bytes, int, int]]) -> bool:
            return self.fails(dataclasses.replace(program, storage=storage(kept)))

        kept = remove_chunks(slots, fails, self.budget)
        return dataclasses.replace(program, storage=storage(kept))

    def _pushes(self, program: Program) -> Program:
        """Each PUSH of a non-zero value becomes PUSH0 where the failure survives it."""
        for address in sorted(program.codes):
            code_units = units(program.codes[address])
            for i, unit in enumerate(code_units):
                if self.budget.spent():
                    return program
                if not 0x60 <= unit.data[0] <= 0x7F or not any(unit.data[1:]):
                    continue
                trial = [*code_units[:i], Unit(unit.pc, b"\x5f"), *code_units[i + 1 :]]
                candidate = _with_code(program, address, relink(trial))
                if self.fails(candidate):
                    program, code_units = candidate, trial
        return program


def _with_code(program: Program, address: bytes, code: bytes) -> Program:
    return dataclasses.replace(program, codes={**program.codes, address: code})


def shrink(program: Program, still_fails: Callable[[Program], bool], budget: Budget) -> Program:
    """A smaller program for which ``still_fails`` holds (``program`` itself if none is found)."""
    return Shrinker(still_fails, budget).shrink(program)
