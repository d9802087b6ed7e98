"""Hostile control flow and stack shapes on every backend, against py-evm.

Stack overflow at 1024 items and underflow at block starts, after branches and
in loops; jumps into PUSH data, to out-of-range and huge destinations whose low
bits name a real JUMPDEST; JUMPI with a huge destination not taken; truncated
PUSH at the end of code; INVALID and every undefined opcode; and every write a
static context forbids.
"""

from __future__ import annotations

import pytest
from eth.vm.forks.cancun import CancunVM
from hostile_asm import (
    BACKENDS,
    EXTREMES,
    OPCODES,
    Case,
    Label,
    Ref,
    asm,
    compare,
    expected,
    mismatches,
    push,
)

from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B

CONTRACT_C = bytes.fromhex("cc" * 20)
B = int.from_bytes(CONTRACT_B, "big")
C = int.from_bytes(CONTRACT_C, "big")

SAVE_AND_RETURN = asm(0, "SSTORE", "MSIZE", 0, "MSTORE", 32, 0, "RETURN")
"""Store the top of the stack in slot 0 and return 32 bytes."""


def _case(name: str, code: bytes, data: bytes = b"", **codes: bytes) -> Case:
    all_codes = {CONTRACT_A: code}
    all_codes.update({bytes.fromhex(k * 40): v for k, v in codes.items()})  # b=, c=
    return name, all_codes, {"data": data, "gas": 200_000}


# --- stack bounds --------------------------------------------------------------------------


def _pushes(n: int) -> bytes:
    return b"\x5f" * n


def stack_cases() -> list[Case]:
    loop_forever = asm(Label("top"), 0, Ref("top"), "JUMP")
    # Push calldata[0] items in a loop, then store the count: 1024 fit, 1025 do not.
    push_n = asm(
        "PUSH0", "CALLDATALOAD",  # [n]
        Label("loop"),
        "DUP1", "ISZERO", Ref("done"), "JUMPI",
        1, "SWAP1", "SUB",  # [n-1]
        "PC", "SWAP1",  # one more item below the counter
        Ref("loop"), "JUMP",
        Label("done"),
        1, "SSTORE", "STOP",
    )  # fmt: skip
    cases = [
        _case("1024 pushes", _pushes(1024) + b"\x00"),
        _case("1025 pushes", _pushes(1025) + b"\x00"),
        _case("1023 pushes DUP1", _pushes(1023) + asm("DUP1", "STOP")),
        _case("1024 pushes DUP1", _pushes(1024) + asm("DUP1", "STOP")),
        _case("1024 pushes DUP16", _pushes(1024) + asm("DUP16", "STOP")),
        _case("1024 pushes SWAP16 ADD PUSH0", _pushes(1024) + asm("SWAP16", "ADD", 0, "STOP")),
        _case("1024 pushes then a new block", asm(_pushes(1024), Ref("x"), "JUMP", Label("x"))),
        _case("1023 pushes then a jump", asm(_pushes(1023), Ref("x"), "JUMP", Label("x"), 0)),
        _case("1024 pushes truncated PUSH2", _pushes(1024) + b"\x61\x01"),
        _case("loop pushes forever", loop_forever),
        _case("1025 pushes unreachable", asm(Ref("x"), "JUMP", _pushes(1025), Label("x"))),
        _case("1024 pushes then CALL",
              asm(_pushes(1017), 0, 0, 0, 0, 0, B, "GAS", "CALL", 1, "SSTORE")),
    ]  # fmt: skip
    for n in (0, 1, 1022, 1023, 1024, 2**256 - 1):
        cases.append(_case(f"loop pushes {n}", push_n, n.to_bytes(32, "big")))
    # B overflows its stack: A's CALL returns 0 and A carries on.
    cases.append(
        _case("callee overflows", asm(0, 0, 0, 0, 0, B, 50_000, "CALL", SAVE_AND_RETURN),
              b=_pushes(1025))
    )  # fmt: skip
    return cases


def underflow_cases() -> list[Case]:
    branchy = asm(0, "CALLDATASIZE", Ref("join"), "JUMPI", 0, Label("join"), "ADD", "STOP")
    pop_loop = asm(0, 0, 0, Label("loop"), "POP", Ref("loop"), "JUMP")
    cases = [
        _case("ADD on empty", asm("ADD")),
        _case("POP on empty", asm("POP")),
        _case("PUSH0 ADD", asm(0, "ADD")),
        _case("DUP16 of 15", _pushes(15) + asm("DUP16", "STOP")),
        _case("DUP16 of 16", _pushes(16) + asm("DUP16", "STOP")),
        _case("SWAP16 of 16", _pushes(16) + asm("SWAP16", "STOP")),
        _case("SWAP16 of 17", _pushes(17) + asm("SWAP16", "STOP")),
        _case("branch join ok", branchy),
        _case("branch join underflow", branchy, b"\x01"),
        _case("pop loop", pop_loop),
        _case("RETURN of 1", asm(0, "RETURN")),
        _case("REVERT of 1", asm(0, "REVERT")),
        _case("LOG4 of 5", _pushes(5) + asm("LOG4")),
        _case("CALL of 6", _pushes(5) + asm("GAS", "CALL")),
        _case("CREATE2 of 3", _pushes(3) + asm("CREATE2")),
        _case("MCOPY of 2", _pushes(2) + asm("MCOPY")),
        _case("SSTORE then underflow", asm(1, 1, "SSTORE", "ADD")),
        _case("underflow in a later block", asm(1, Ref("x"), "JUMP", Label("x"), "ADD")),
        _case("callee underflows", asm(0, 0, 0, 0, 0, B, 50_000, "CALL", SAVE_AND_RETURN),
              b=asm("ADD")),
    ]  # fmt: skip
    return cases


# --- jumps ---------------------------------------------------------------------------------


def jump_cases() -> list[Case]:
    # pc 0: PUSH1 4, pc 2: JUMP, pc 3: PUSH1 0x5b (a JUMPDEST byte inside PUSH data)
    into_push = bytes.fromhex("6004 56 605b 00".replace(" ", ""))
    into_push_i = bytes.fromhex("6001 6006 57 00 605b 00".replace(" ", ""))
    into_push32 = asm(33, "JUMP", b"\x7f" + b"\x5b" * 32, Label("real"), 1, 0, "SSTORE")
    cases = [
        _case("into PUSH1 data", into_push),
        _case("JUMPI into PUSH1 data", into_push_i),
        _case("into PUSH32 data", into_push32),
        _case("to 0 (not a JUMPDEST)", asm(0, "JUMP")),
        _case("to itself", asm(Label("x"), Ref("x"), "JUMP")),
    ]
    # A JUMPDEST at a known pc; destinations whose low bits name it (or the end of the code).
    body = asm(Label("dest"), 1, 0, "SSTORE", "STOP")
    for jump_op in ("JUMP", "JUMPI"):
        cond = asm(1) if jump_op == "JUMPI" else b""
        prefix_len = len(cond) + 33 + 2  # [cond] target(33 bytes) JUMP(I) STOP
        code_len = prefix_len + len(body)
        for low in (prefix_len, code_len, code_len + 1):
            for high in [0, *EXTREMES[1:]]:
                target = (high + low) % 2**256
                static = asm(cond, b"\x7f" + target.to_bytes(32, "big"), jump_op, "STOP") + body
                # 33 bytes too: PUSH0 CALLDATALOAD PUSH29 0 POP (no JUMPDEST: one block)
                load = asm(0, "CALLDATALOAD", b"\x7c" + bytes(29), "POP")
                dynamic = asm(cond, load, jump_op, "STOP")
                name = f"{jump_op} to {target:#x}"
                cases.append(_case(name, static))
                cases.append(_case(f"{name} dynamic", dynamic + body, target.to_bytes(32, "big")))
    # JUMPI with a huge destination not taken: execution continues.
    for dest in EXTREMES:
        for cond in (0, 1, 2**255, 2**256 - 1):
            code = asm(cond, dest, "JUMPI", 1, 0, "SSTORE")
            cases.append(_case(f"JUMPI({dest:#x}, cond={cond:#x})", code))
            dynamic = asm(32, "CALLDATALOAD", 0, "CALLDATALOAD", "JUMPI", 1, 0, "SSTORE")
            data = dest.to_bytes(32, "big") + cond.to_bytes(32, "big")
            cases.append(_case(f"JUMPI dynamic({dest:#x}, cond={cond:#x})", dynamic, data))
    return cases


@pytest.mark.parametrize(
    "head",
    [
        asm(0, "CALLDATALOAD", "JUMPDEST", "JUMP", "STOP"),
        asm(0, "CALLDATALOAD", b"\x5b" * 31, "JUMP", "STOP"),
        asm(1, 0, "CALLDATALOAD", "JUMPI", "STOP"),
        asm(1, 0, "CALLDATALOAD", "JUMPDEST", "JUMPI", "STOP"),
    ],
    ids=["JUMPDEST JUMP", "31 JUMPDESTs JUMP", "JUMPI", "JUMPDEST JUMPI"],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamic_jump_target_from_a_block_parameter(backend: str, head: bytes) -> None:
    """The target of a dynamic jump comes from the previous block, as a block parameter
    (a taken dynamic JUMPI, or a JUMP after falling through into a JUMPDEST)."""
    code = head + asm(Label("dest"), 1, 0, "SSTORE")
    want = compare(backend, {CONTRACT_A: code}, data=len(head).to_bytes(32, "big"))
    assert want.success


# --- truncated PUSH, INVALID, undefined opcodes -----------------------------------------------


def truncated_push_cases() -> list[Case]:
    cases = []
    for n in (1, 2, 16, 31, 32):
        opcode = bytes([0x5F + n])
        for have in range(min(n, 3)):
            data = bytes([0x5B] * have)  # JUMPDEST bytes, but inside the PUSH
            cases.append(_case(f"PUSH{n} with {have} bytes", opcode + data))
            cases.append(
                _case(f"SSTORE PUSH{n} with {have} bytes", asm(1, 1, "SSTORE") + opcode + data)
            )
            # PUSH1 4 JUMP PUSH<n> <data>: pc 4 is the first data byte (or past the end)
            cases.append(
                _case(f"jump into truncated PUSH{n}/{have}", asm(4, "JUMP") + opcode + data)
            )
    # truncated PUSH after a full stack; truncated PUSH as the jump's own operand
    cases.append(_case("PUSH32 empty at 1024", _pushes(1024) + b"\x7f"))
    cases.append(_case("PUSH1 0x5b 56 truncated", bytes.fromhex("5b60")))
    cases.append(_case("JUMPDEST PUSH2 truncated jump", bytes.fromhex("5b5f56" + "61")))
    return cases


UNDEFINED = [op for op in range(256) if op not in CancunVM._state_class.computation_class.opcodes]


def invalid_cases() -> list[Case]:
    assert 0xFE in UNDEFINED and 0x0C in UNDEFINED
    cases = []
    for op in UNDEFINED:
        # reached only without calldata: compiled code must not halt before it gets there
        code = asm("CALLDATASIZE", Ref("skip"), "JUMPI", 1, 1, "SSTORE", bytes([op]),
                   Label("skip"), 2, 1, "SSTORE")  # fmt: skip
        cases.append(_case(f"{op:#04x} reached", code))
        if op in (0x0C, 0x1E, 0x21, 0x4B, 0xA5, 0xEF, 0xF6, 0xFB, 0xFE):  # one from each gap
            cases.append(_case(f"{op:#04x} skipped", code, b"\x01"))
    # A callee hitting INVALID burns what it was given; the caller continues.
    cases.append(_case("callee INVALID", asm(0, 0, 0, 0, 0, B, 30_000, "CALL", SAVE_AND_RETURN),
                       b=asm(1, 1, "SSTORE", "INVALID")))  # fmt: skip
    cases.append(_case("INVALID after SSTORE", asm(1, 1, "SSTORE", "INVALID")))
    cases.append(_case("INVALID at 1024 items", _pushes(1024) + asm("INVALID")))
    return cases


# --- static context ------------------------------------------------------------------------

STATIC_WRITES = {
    "SSTORE": asm(1, 0, "SSTORE"),
    "SSTORE same value": asm(0, 0, "SSTORE"),
    "TSTORE": asm(1, 0, "TSTORE"),
    "LOG0": asm(0, 0, "LOG0"),
    "LOG4": asm(1, 2, 3, 4, 0, 0, "LOG4"),
    "CREATE": asm(0, 0, 0, "CREATE"),
    "CREATE2": asm(0, 0, 0, 0, "CREATE2"),
    "CREATE with a huge size": asm(2**256 - 1, 0, 0, "CREATE"),
    "CALL with value": asm(0, 0, 0, 0, 1, C, "GAS", "CALL"),
    "CALL without value": asm(0, 0, 0, 0, 0, C, "GAS", "CALL", 9, "SSTORE"),
    "CALLCODE with value": asm(0, 0, 0, 0, 1, C, "GAS", "CALLCODE"),
    "CALL to a writer": asm(0, 0, 0, 0, 0, C, "GAS", "CALL", 0, "MSTORE", 32, 0, "RETURN"),
    "DELEGATECALL to a writer": asm(0, 0, 0, 0, C, "GAS", "DELEGATECALL", 0, "MSTORE", 32, 0,
                                    "RETURN"),
    "SELFDESTRUCT": asm(C, "SELFDESTRUCT"),
    "reads only": asm(0, "SLOAD", 0, "TLOAD", "ADD", 0, "MSTORE", 32, 0, "RETURN"),
}  # fmt: skip
"""Contract B's code, run under STATICCALL from A (C's code: an SSTORE)."""

STATIC_CALLER = asm(
    32, 0, 0, 0, B, 100_000, "STATICCALL",
    0, "SSTORE", "RETURNDATASIZE", 1, "SSTORE", 0, "MLOAD", 2, "SSTORE",
    "GAS", 3, "SSTORE",
)  # fmt: skip


def static_cases() -> list[Case]:
    writer = asm(5, 5, "SSTORE", 1, 0, "MSTORE", 32, 0, "RETURN")
    cases = [_case(f"static {name}", STATIC_CALLER, b=code, c=writer)
             for name, code in STATIC_WRITES.items()]  # fmt: skip
    # The same writes outside a static context succeed (the programs are not broken).
    cases += [_case(f"plain {name}", code, c=writer) for name, code in STATIC_WRITES.items()]
    return cases


FAMILIES = {
    "stack overflow": stack_cases,
    "stack underflow": underflow_cases,
    "jumps": jump_cases,
    "truncated push": truncated_push_cases,
    "invalid and undefined": invalid_cases,
    "static context": static_cases,
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_control_flow(backend: str, family: str) -> None:
    assert mismatches(backend, FAMILIES[family]()) == []


def test_cases_are_meaningful() -> None:
    """A few outcomes pinned on py-evm itself, so the grids test what they claim."""

    def outcome(cases: list[Case], name: str) -> str:
        [(_, codes, kw)] = [c for c in cases if c[0] == name]
        return expected(codes, **kw).error

    stack = stack_cases()
    assert outcome(stack, "1024 pushes") == ""
    assert outcome(stack, "1025 pushes") == "halt"
    assert outcome(stack, "1025 pushes unreachable") == ""
    assert outcome(jump_cases(), "into PUSH1 data") == "halt"
    assert outcome(jump_cases(), f"JUMPI({2**256 - 1:#x}, cond=0x0)") == ""
    assert outcome(jump_cases(), f"JUMP to {2**64 + 35:#x}") == "halt"
    assert outcome(jump_cases(), f"JUMP to {2**64 + 35:#x} dynamic") == "halt"
    assert outcome(jump_cases(), "JUMP to 0x23") == ""
    assert outcome(jump_cases(), "JUMP to 0x23 dynamic") == ""
    assert outcome(static_cases(), "static SSTORE") == ""  # the STATICCALL fails, A goes on
    assert OPCODES["INVALID"] in UNDEFINED
    assert push(0) == b"\x5f"
