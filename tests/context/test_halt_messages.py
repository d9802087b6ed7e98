"""Exceptional halts of compiled frames carry py-evm's exception class and wording.

Each program halts one way; it runs on stock py-evm and on the dispatching
VM (reference IR backend, and LLVM where it is built), and the two errors
are compared.  Where compiled code cannot know a value py-evm's text holds
(halt_map's docstring), the expected text is the documented one with ``?``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from message_harness import SENDER, A, B, addr, make_state

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.context import make_vm_class
from evmkiln.context.halt_map import pyevm_error
from evmkiln.context.registry import available_backends
from evmkiln.context.vm import REPLAY_REASON

BACKENDS = [name for name in ("ir", "llvm") if name in available_backends()]


def asm(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def error_of(vm_class: Any, code: bytes, *, gas: int = 100_000, static: bool = False) -> Any:
    """The error a top-level message to ``A`` running ``code`` ends with."""
    state = make_state(
        vm_class,
        {A: {"code": code}, B: {"code": asm("6001 5f f3")}, SENDER: {"balance": 10**18}},
    )
    message = Message(gas=gas, to=A, sender=SENDER, value=0, data=b"", code=code, is_static=static)
    computation = state.computation_class.apply_message(
        state, message, CancunTransactionContext(gas_price=1, origin=SENDER)
    )
    assert computation.is_error
    return computation.error


def create_error_of(vm_class: Any, initcode: bytes) -> Any:
    state = make_state(vm_class, {SENDER: {"balance": 10**18}})
    message = Message(
        gas=10_000_000,
        to=CREATE_CONTRACT_ADDRESS,
        sender=SENDER,
        value=0,
        data=b"",
        code=initcode,
        create_address=addr(0xC4EA7E),
    )
    computation = state.computation_class.apply_create_message(
        state, message, CancunTransactionContext(gas_price=1, origin=SENDER)
    )
    assert computation.is_error
    return computation.error


# (name, code, static, the text expected from compiled code or None for py-evm's own)
CASES: list[tuple[str, bytes, bool, str | None]] = [
    ("undefined opcode, one candidate", asm("6001 6002 0c"), False, None),
    ("designated INVALID, one candidate", asm("6001 fe"), False, None),
    (
        "designated INVALID, two candidates",
        asm("5f 6007 57 fe 5b fe"),
        False,
        "Invalid opcode 0xfe @ ?",
    ),
    ("jump to a non-JUMPDEST", asm("6005 56 00 00 00"), False, None),
    ("dynamic jump to a non-JUMPDEST", asm("6003 6002 01 56 00 00"), False, None),
    ("stack overflow", asm("5b 5f 6000 56"), False, None),
    # py-evm names the instruction; compiled code checks a block's needs at its entry.
    ("stack underflow", asm("6001 01"), False, "Insufficient stack items"),
    ("SSTORE in a static frame", asm("6001 5f 55"), True, None),
    ("LOG in a static frame", asm("5f5f a0"), True, None),
    ("CALL with value in a static frame", asm("5f5f5f5f 6001 61bbbb 5a f1"), True, None),
    ("TSTORE in a static frame", asm("6001 5f 5d"), True, None),
    (
        "RETURNDATACOPY past the end",
        asm("5f5f5f5f5f 61bbbb 5a fa 50 6002 5f 5f 3e"),
        False,
        None,
    ),
    ("SSTORE sentry", asm("6001 5f 55"), False, None),
    ("SSTORE cost", asm("6001 5f 55"), False, None),
]

GAS = {"SSTORE sentry": 2_305, "SSTORE cost": 2_400}
# PUSH1 4; JUMP; PUSH1 0x5b; STOP: the target is a 0x5B byte inside PUSH data.
JUMP_INTO_PUSH_DATA = asm("6004 56 605b 00")
# Out of gas is replayed (with replay_out_of_gas) whatever its text: a builtin's
# Remaining can be lower than py-evm's.
REPLAYED = {
    "designated INVALID, two candidates",
    "stack underflow",
    "stack overflow",
    "SSTORE cost",
}
NATIVE_REPLAYED = {"RETURNDATACOPY past the end"}  # native code keeps no numbers for the text
UNKNOWN_AMOUNTS = "Out of gas: Needed ? - Remaining ? - Reason: compiled code"


def _fits(pattern: str, text: str) -> bool:
    """``pattern`` with ``?`` standing for one unknown value."""
    regex = re.escape(pattern).replace(r"\?", r".+?")
    return re.fullmatch(regex, text) is not None


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "code", "static", "expected"), CASES, ids=[c[0] for c in CASES])
def test_halt_matches_pyevm(
    backend: str, name: str, code: bytes, static: bool, expected: str | None
) -> None:
    gas = GAS.get(name, 100_000)
    stock = error_of(CancunVM, code, gas=gas, static=static)
    kiln_vm = make_vm_class(
        backend, interpret_on_compile_error=False, replay_inexact_halts=False, fork="cancun"
    )
    compiled = error_of(kiln_vm, code, gas=gas, static=static)
    assert kiln_vm.stats.frames_run_compiled >= 1
    assert type(compiled) is type(stock)
    if expected is None and backend == "ir":
        assert str(compiled) == str(stock)
    elif expected is None:
        # Native code does some work itself (memory, return data) and keeps no values:
        # py-evm's text with ``?`` for them.
        assert str(compiled) == str(stock) or _fits(str(compiled), str(stock))
    else:
        assert str(compiled) == expected
        assert str(stock) != expected  # the case documents a real difference


OUT_OF_GAS_IN_GENERATED_CODE = [
    # A segment's static gas, charged at once.
    ("static segment", asm("6001 6001 01 6001 01 00"), 5),
    # EXP's 50 gas per exponent byte: a computed charge in the IR.
    ("EXP byte gas", asm("7f" + "ff" * 32 + "6002 0a 00"), 100),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "code", "gas"),
    OUT_OF_GAS_IN_GENERATED_CODE,
    ids=[c[0] for c in OUT_OF_GAS_IN_GENERATED_CODE],
)
def test_out_of_gas_in_generated_code_keeps_pyevm_shape(
    backend: str, name: str, code: bytes, gas: int
) -> None:
    """Generated code does not know the amounts: ``?`` where py-evm has numbers."""
    stock = error_of(CancunVM, code, gas=gas)
    kiln_vm = make_vm_class(backend, fork="cancun", replay_inexact_halts=False)
    compiled = error_of(kiln_vm, code, gas=gas)
    assert type(compiled) is type(stock)
    assert str(compiled) == UNKNOWN_AMOUNTS
    assert _fits("Out of gas: Needed ? - Remaining ? - Reason: ?", str(stock))
    assert REPLAY_REASON not in kiln_vm.stats.interpreted_for


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "code", "gas"),
    OUT_OF_GAS_IN_GENERATED_CODE,
    ids=[c[0] for c in OUT_OF_GAS_IN_GENERATED_CODE],
)
def test_out_of_gas_of_a_top_frame_is_replayed(
    backend: str, name: str, code: bytes, gas: int
) -> None:
    """With ``replay_out_of_gas`` a top frame that ran out of gas is run again:
    py-evm's amounts exactly.  By default it keeps compiled code's ``?``."""
    stock = error_of(CancunVM, code, gas=gas)
    kiln_vm = make_vm_class(backend, fork="cancun", replay_out_of_gas=True)
    replayed = error_of(kiln_vm, code, gas=gas)
    assert (type(replayed), str(replayed)) == (type(stock), str(stock))
    assert kiln_vm.stats.interpreted_for[REPLAY_REASON] == 1
    default = make_vm_class(backend, fork="cancun")
    kept = error_of(default, code, gas=gas)
    assert (type(kept), str(kept)) == (type(stock), UNKNOWN_AMOUNTS)
    assert REPLAY_REASON not in default.stats.interpreted_for


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_expansion_out_of_gas(backend: str) -> None:
    """Builtins that grow memory report py-evm's amounts; native memory growth does not."""
    code = asm("6001 630fffffff 52")
    stock = error_of(CancunVM, code)
    compiled = error_of(make_vm_class(backend, fork="cancun", replay_inexact_halts=False), code)
    assert type(compiled) is type(stock)
    assert str(compiled) in (str(stock), UNKNOWN_AMOUNTS)
    if backend == "ir":
        assert str(compiled) == str(stock)
    replayed = error_of(make_vm_class(backend, fork="cancun", replay_out_of_gas=True), code)
    assert (type(replayed), str(replayed)) == (type(stock), str(stock))


@pytest.mark.parametrize("backend", BACKENDS)
def test_oversized_initcode_in_create(backend: str) -> None:
    """CREATE of more than EIP-3860's 49152 bytes halts the creator, with py-evm's text."""
    size = 49153
    # CREATE(0, 0, size): memory is zeros, so the initcode is 49153 STOPs.
    code = asm(f"62{size:06x} 5f 5f f0 00")
    stock = error_of(CancunVM, code, gas=1_000_000)
    compiled = error_of(make_vm_class(backend, fork="cancun"), code, gas=1_000_000)
    assert type(compiled) is type(stock)
    assert str(compiled) == str(stock)


def test_code_deposit_errors_stay_pyevm_own() -> None:
    """EIP-3541 and EIP-170 are checked by py-evm after the frame: same text by construction."""
    starts_with_ef = asm("60ef 5f 53 6001 5f f3")
    too_big = asm("616001 5f f3")
    for initcode in (starts_with_ef, too_big):
        stock = create_error_of(CancunVM, initcode)
        compiled = create_error_of(make_vm_class("ir", fork="cancun"), initcode)
        assert (type(compiled), str(compiled)) == (type(stock), str(stock))


def test_messages_from_facts() -> None:
    """Halts raised with their values are worded exactly as py-evm words them."""
    oog = pyevm_error(
        ExceptionalHalt(
            HaltKind.OUT_OF_GAS, needed=96, remaining=50, reason="Expanding memory 0 -> 96"
        )
    )
    assert str(oog) == "Out of gas: Needed 96 - Remaining 50 - Reason: Expanding memory 0 -> 96"
    assert str(pyevm_error(ExceptionalHalt(HaltKind.CODE_SIZE_LIMIT, code_size=24577))) == (
        "Contract code size exceeds EIP170 limit of 24576.  Got code of size: 24577"
    )
    collision = pyevm_error(ExceptionalHalt(HaltKind.CREATE_COLLISION, address="0x" + "ab" * 20))
    assert str(collision) == "Address collision while creating contract: 0x" + "ab" * 20
    assert str(pyevm_error(ExceptionalHalt(HaltKind.INVALID_CODE_PREFIX))) == (
        "Contract code begins with EIP3541 reserved byte '0xEF'."
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "code", "static", "expected"), CASES, ids=[c[0] for c in CASES])
def test_inexact_halts_are_replayed_into_pyevm_own_error(
    backend: str, name: str, code: bytes, static: bool, expected: str | None
) -> None:
    """By default a halt compiled code cannot word (or class) exactly is run again, interpreted."""
    gas = GAS.get(name, 100_000)
    stock = error_of(CancunVM, code, gas=gas, static=static)
    kiln_vm = make_vm_class(backend, fork="cancun", replay_out_of_gas=True)
    compiled = error_of(kiln_vm, code, gas=gas, static=static)
    assert (type(compiled), str(compiled)) == (type(stock), str(stock))
    replays = kiln_vm.stats.interpreted_for.get(REPLAY_REASON, 0)
    replayed = name in REPLAYED or (backend != "ir" and name in NATIVE_REPLAYED)
    assert replays == (1 if replayed else 0)
    assert kiln_vm.stats.frames_run_compiled >= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_jump_into_push_data_is_pyevm_invalid_instruction(backend: str) -> None:
    stock = error_of(CancunVM, JUMP_INTO_PUSH_DATA)
    assert (type(stock).__name__, str(stock)) == (
        "InvalidInstruction",
        "Jump resulted in invalid instruction",
    )
    exact = error_of(make_vm_class(backend, fork="cancun"), JUMP_INTO_PUSH_DATA)
    assert (type(exact), str(exact)) == (type(stock), str(stock))
    own = make_vm_class(
        backend, fork="cancun", interpret_on_compile_error=False, replay_inexact_halts=False
    )
    assert type(error_of(own, JUMP_INTO_PUSH_DATA)).__name__ == "InvalidJumpDestination"


def test_a_replay_interprets_only_the_halted_frame() -> None:
    """The caller's frame halts inexactly after a CALL: the callee still runs compiled."""
    # CALL(gas, B, 0, 0, 0, 0, 0); then ADD on an empty stack... after POP: underflow.
    caller = asm("5f5f5f5f5f 61bbbb 5a f1 50 01")
    stock = error_of(CancunVM, caller)
    kiln_vm = make_vm_class("ir", fork="cancun")
    exact = error_of(kiln_vm, caller)
    assert (type(exact), str(exact)) == (type(stock), str(stock))
    stats = kiln_vm.stats
    assert stats.interpreted_for == {REPLAY_REASON: 1}
    # A and B compiled once, B run again compiled in the replay: A interpreted once.
    assert (stats.frames_run_compiled, stats.frames_interpreted) == (3, 1)


def test_only_the_top_frame_is_replayed() -> None:
    """Hundreds of nested frames that each halt inexactly after their child: one replay.

    Replaying every frame would run the deepest one 2^depth times.
    """
    # CALL(gas, ADDRESS, 0, 0, 0, 0, 0); POP; ADD on an empty stack.
    recursive = asm("5f5f5f5f5f 30 5a f1 50 01")
    stock = error_of(CancunVM, recursive, gas=10_000_000)
    kiln_vm = make_vm_class("ir", fork="cancun")
    exact = error_of(kiln_vm, recursive, gas=10_000_000)
    assert (type(exact), str(exact)) == (type(stock), str(stock))
    stats = kiln_vm.stats
    assert stats.interpreted_for == {REPLAY_REASON: 1}
    assert stats.frames_run_compiled > 400  # the nesting ran, twice, compiled
