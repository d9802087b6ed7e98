"""Opcode tables of evmkiln's own: foreign wrappers taken off, patches seen without a scan."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.prague.computation import PragueComputation

sys.path.insert(0, str(Path(__file__).parents[1] / "context"))

from message_harness import SENDER, A, apply_message

from evmkiln.context import make_vm_class
from evmkiln.context.vm import patched_opcode
from evmkiln.forks.opcode_table import OpcodeTable, is_pyevm_opcode, own_table, unwrapped

KECCAK, SSTORE, CALLVALUE = 0x20, 0x55, 0x34


class Tracer:
    """A tool's tracer, shaped like titanoboa's: it keeps what it wraps and a record."""

    def __init__(self, inner: Any, record: list[int]) -> None:
        self.inner = inner
        self.record = record

    def __call__(self, computation: Any) -> None:
        self.record.append(1)
        self.inner(computation)


class Opaque:
    """A replacement that keeps nothing of py-evm's: what it runs cannot be told."""

    def __call__(self, computation: Any) -> None:
        raise AssertionError("not run")


def pyevm_table() -> dict[int, Any]:
    """py-evm's Prague table as py-evm made it.  titanoboa, once imported in the process
    (by another test), has put its tracers into that very dict: looked through here."""
    return {op: unwrapped(impl) for op, impl in PragueComputation.opcodes.items()}


def polluted_table() -> dict[int, Any]:
    table: dict[int, Any] = pyevm_table()
    table[KECCAK] = Tracer(Tracer(table[KECCAK], []), [])  # two environments, two layers
    table[SSTORE] = Tracer(table[SSTORE], [])
    return table


def test_wrappers_come_off_and_everything_else_stays() -> None:
    original = pyevm_table()
    assert all(is_pyevm_opcode(impl) for impl in original.values())
    table = polluted_table()
    table[CALLVALUE] = opaque = Opaque()
    own = own_table(table)
    assert own[KECCAK] is original[KECCAK]
    assert own[SSTORE] is original[SSTORE]
    assert own[CALLVALUE] is opaque  # not a wrapper: kept, and it still counts as a patch
    assert all(own[op] is original[op] for op in original if op != CALLVALUE)
    assert own.foreign() == ((CALLVALUE, opaque),)
    assert own.taken_off == ((KECCAK, "Tracer"), (SSTORE, "Tracer"))  # visible, not silent
    assert own_table(original).taken_off == ()
    assert unwrapped(opaque) is opaque
    assert is_pyevm_opcode(original[KECCAK]) and not is_pyevm_opcode(table[KECCAK])


def test_a_wrapper_of_two_opcodes_is_not_taken_apart() -> None:
    both = Tracer(PragueComputation.opcodes[KECCAK], [])
    both.other = PragueComputation.opcodes[SSTORE]  # type: ignore[attr-defined]
    assert unwrapped(both) is both


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.__setitem__(KECCAK, Opaque()),
        lambda t: t.update({KECCAK: Opaque()}),
        lambda t: t.setdefault(0x0C, Opaque()),
        lambda t: t.__ior__({KECCAK: Opaque()}),
    ],
)
def test_the_table_notices_every_patch(change: Any) -> None:
    table = own_table(PragueComputation.opcodes)
    assert table.foreign() == ()
    assert patched_opcode(table) is None
    change(table)
    assert len(table.foreign()) == 1
    assert patched_opcode(table) is not None
    assert patched_opcode(table, tolerated=(Opaque,)) is None


def test_the_table_notices_an_unpatch() -> None:
    table = own_table(PragueComputation.opcodes)
    keccak = table[KECCAK]
    table[KECCAK] = Opaque()
    assert patched_opcode(table) is not None
    table[KECCAK] = keccak
    assert patched_opcode(table) is None
    table[0x0C] = Opaque()
    del table[0x0C]
    assert table.foreign() == ()
    table[0x0C] = Opaque()
    table.pop(0x0C)
    assert table.foreign() == ()


def test_the_table_deep_copies_as_a_table() -> None:
    """A later fork's table is a deep copy of the previous one's."""
    table = own_table(PragueComputation.opcodes)
    table[CALLVALUE] = Opaque()
    again = copy.deepcopy(table)
    assert isinstance(again, OpcodeTable)
    assert set(again) == set(table)
    assert [value for value, _ in again.foreign()] == [CALLVALUE]


def test_each_vm_class_has_a_table_of_its_own() -> None:
    first: Any = make_vm_class("ir", "prague").get_state_class().computation_class
    second: Any = make_vm_class("ir", "prague").get_state_class().computation_class
    assert first.opcodes is not second.opcodes
    assert first.opcodes is not PragueComputation.opcodes
    first.opcodes[CALLVALUE] = Opaque()
    assert patched_opcode(first.opcodes) is not None
    assert patched_opcode(second.opcodes) is None


TITANOBOA_FIRST = textwrap.dedent(
    """
    import boa  # builds titanoboa's environment: its tracers go into py-evm's Prague table

    from eth.vm.forks.prague.computation import PragueComputation
    from evmkiln.context import make_vm_class
    from evmkiln.context.vm import patched_opcode
    from evmkiln.forks.opcode_table import is_pyevm_opcode

    assert not is_pyevm_opcode(PragueComputation.opcodes[0x20])  # titanoboa's doing
    for fork in ("prague", "osaka"):  # Osaka's table is built from Prague's
        computation = make_vm_class("ir", fork).get_state_class().computation_class
        assert patched_opcode(computation.opcodes) is None, fork
    print("ok")
    """
)


def test_titanoboa_imported_first_leaves_evmkiln_compiling() -> None:
    """titanoboa patches py-evm's shared table when imported (pytest imports it as a plugin).

    Before, evmkiln's Prague VM classes then interpreted every frame, and
    building Osaka's table failed (the tracers cannot be deep-copied).
    """
    pytest.importorskip("boa")
    done = subprocess.run(
        [sys.executable, "-c", TITANOBOA_FIRST], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_a_patch_after_frames_ran_compiled_sends_the_next_frames_to_the_interpreter() -> None:
    """The dispatcher skips asking while the table is known to be py-evm's own; any
    change to the table, through any of its mutators, ends that."""
    vm_class = make_vm_class("llvm", "cancun")
    computation_class: Any = vm_class.get_state_class().computation_class
    table = computation_class.opcodes
    code = bytes.fromhex("3460005500")  # SSTORE(0, CALLVALUE)
    accounts = {SENDER: {"balance": 10**18}, A: {"code": code}}
    expected = apply_message(CancunVM, accounts, value=3)
    stats = vm_class.stats
    for _ in range(2):
        assert apply_message(vm_class, accounts, value=3) == expected
    assert stats.frames_run_compiled == 2 and table.known_own
    record: list[int] = []
    table[CALLVALUE] = Tracer(table[CALLVALUE], record)
    assert not table.known_own
    assert apply_message(vm_class, accounts, value=3) == expected
    assert record == [1] and stats.frames_run_compiled == 2
    assert sum(stats.interpreted_for.values()) == 1
    table |= {CALLVALUE: unwrapped(table[CALLVALUE])}
    assert apply_message(vm_class, accounts, value=3) == expected
    assert stats.frames_run_compiled == 3 and table.known_own
