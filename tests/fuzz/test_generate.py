"""The generator: deterministic per seed, every family built, well-formed where it means to be.

Coverage is checked on the interpreter itself (the observed reference): a
few hundred programs must execute nearly every Cancun opcode and end frames
in every kind of halt, or the fuzzer would be comparing engines on a
narrow slice of the EVM.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evmkiln.codegen.evm.bytecode import decode
from evmkiln.deep_stack import on_deep_stack
from evmkiln.fuzz.asm import Addr, Label, Mark, Ref, asm
from evmkiln.fuzz.coverage import DEFINED, observed_reference
from evmkiln.fuzz.execute import CONTRACT_A, intrinsic_gas
from evmkiln.fuzz.families import ALL_STATEMENTS, GENERAL
from evmkiln.fuzz.generate import FAMILIES, generate
from evmkiln.fuzz.interactions import initcode
from evmkiln.fuzz.precompile_inputs import precompile_input
from evmkiln.fuzz.program import Program
from evmkiln.fuzz.snippets import assemble, random_snippets
from evmkiln.fuzz.statements import exit_frame
from evmkiln.fuzz.writer import Writer


def test_same_seed_and_index_give_the_same_program() -> None:
    for index in range(40):
        assert generate(3, index) == generate(3, index)


def test_programs_differ_between_indices_and_seeds() -> None:
    first = [generate(1, i).codes[CONTRACT_A] for i in range(30)]
    assert len(set(first)) == 30
    other_seed = [generate(2, i).codes[CONTRACT_A] for i in range(30)]
    assert not set(first) & set(other_seed)


def test_generation_does_not_depend_on_global_random_state() -> None:
    random.seed(1)
    a = generate(5, 7)
    random.seed(2)
    assert generate(5, 7) == a


def test_every_family_is_generated_and_can_be_chosen_alone() -> None:
    seen = Counter(generate(0, i).family for i in range(600))
    assert set(seen) == set(FAMILIES)
    for family in FAMILIES:
        programs = [generate(9, i, [family]) for i in range(5)]
        assert {p.family for p in programs} == {family}
        assert any(p.codes[CONTRACT_A] for p in programs)


def test_transactions_can_pay_their_intrinsic_gas() -> None:
    for index in range(300):
        program = generate(4, index)
        assert program.gas >= intrinsic_gas(program.calldata)
        assert program.gas <= 3_000_000
        assert 2 <= len(program.codes) <= 3


def test_solidity_and_vyper_programs_are_called_with_their_selectors() -> None:
    for family in ("solidity", "vyper"):
        hits = 0
        for index in range(40):
            program = generate(6, index, [family])
            selector = program.calldata[:4]
            if len(selector) == 4 and b"\x63" + selector in program.codes[CONTRACT_A]:
                hits += 1  # a PUSH4 of the selector the transaction carries
        assert hits >= 25, family


def test_the_writer_keeps_track_of_the_stack() -> None:
    """Written code never underflows, nor jumps astray, unless a statement means it to.

    Without the statements that break rules on purpose (faults, jump tables
    indexed out of range), every join point must agree on the stack height:
    the contract's own frame may run out of gas, revert or overflow in a
    deep recursion, but never underflow or take a bad jump.
    """
    profile = {k: v for k, v in GENERAL.items() if k not in ("fault", "jump_table")}
    vm, _ = observed_reference()
    rng = random.Random(5)
    ended: Counter[str] = Counter()

    def run_all() -> None:
        for _ in range(100):
            w = Writer(rng, ALL_STATEMENTS, profile, budget=rng.randint(5, 40))
            w.block(w.budget)
            exit_frame(w)
            program = Program(codes={CONTRACT_A: asm(w.items, w.tail)}, gas=1_000_000)
            ended[program.run(vm).detail] += 1

    on_deep_stack(run_all)
    assert ended["InsufficientStack"] == 0, ended
    assert ended["InvalidJumpDestination"] == 0, ended
    assert ended[""] + ended["Revert"] > 30, ended


def test_opcode_and_halt_coverage_on_the_interpreter() -> None:
    vm, observation = observed_reference()
    executed: set[int] = set()
    halts: Counter[str] = Counter()

    def run_all() -> None:
        for index in range(400):
            observation.reset()
            generate(12, index).run(vm)
            executed.update(observation.opcodes)
            halts.update(observation.halts)

    on_deep_stack(run_all)
    missing = DEFINED - executed
    assert len(missing) <= 4, sorted(missing)
    for kind in (
        "Revert",
        "OutOfGas",
        "InvalidJumpDestination",
        "InsufficientStack",
        "FullStack",
        "InvalidInstruction",
        "WriteProtection",
        "OutOfBoundsRead",
    ):
        assert halts[kind] > 0, (kind, halts)


def test_assembler_resolves_labels_marks_and_data_addresses() -> None:
    code = asm(Ref("end"), "JUMP", Mark("data"), b"\xfe", Label("end"), Addr("end"), Addr("data"))
    # PUSH2 0005 JUMP INVALID JUMPDEST 0005 0004
    assert code.hex() == "61000556fe5b00050004"
    with pytest.raises(KeyError):
        asm(Ref("nowhere"))
    with pytest.raises(ValueError):
        asm(-1)


def test_snippets_assemble_to_code_with_their_labels() -> None:
    rng = random.Random(0)
    for _ in range(50):
        snippets = random_snippets(rng)
        code = assemble(snippets, b"\x11" * 20)
        labels = sum(1 for kind, _ in snippets if kind == "label")
        assert sum(1 for i in decode(code) if i.op == 0x5B) >= labels


def test_initcode_and_precompile_inputs_are_plausible() -> None:
    rng = random.Random(1)
    codes = [initcode(rng) for _ in range(100)]
    assert any(code.startswith(b"\x60") and code[6:10] == bytes([0x60, code[1], 0x5F, 0xF3])
               for code in codes)  # fmt: skip
    sizes = {address: {len(precompile_input(rng, address)) for _ in range(60)}
             for address in range(1, 11)}  # fmt: skip
    assert 128 in sizes[1]
    assert 213 in sizes[9]
    assert 192 in sizes[10]
    assert 0 in sizes[8]
