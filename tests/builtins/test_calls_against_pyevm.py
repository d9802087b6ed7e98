"""The CALL family agrees with py-evm: gas, result, memory, return data, state, logs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth.exceptions import OutOfGas, WriteProtection
from hypothesis import given, settings
from hypothesis import strategies as st
from opcode_harness import (
    CALLER,
    CONTRACT,
    EMPTY,
    OTHER,
    PRECOMPILE,
    Account,
    Setup,
    compare,
)
from sample_code import (
    BURNER,
    CLEARER,
    INVALID,
    RETURNER,
    REVERTER,
    STORE_AND_LOG,
    WHOAMI,
    WORD,
)

CALLEES = {
    "returner": RETURNER,
    "reverter": REVERTER,
    "invalid": INVALID,
    "burner": BURNER,
    "store_and_log": STORE_AND_LOG,
    "clearer": CLEARER,
    "whoami": WHOAMI,
}
MEMORY = bytes(range(1, 129))


def _setup(callee: bytes, **changes: object) -> Setup:
    base = Setup(
        accounts={
            CONTRACT: Account(balance=1000),
            OTHER: Account(balance=1, code=callee, storage={0: 9}),
        },
        memory=MEMORY,
        value=3,
        gas=150_000,  # small enough that gas-burning callees stay quick
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _call_args(
    name: str, gas: int, to: bytes, value: int, io: tuple[int, int, int, int] = (0, 0, 0, 0)
) -> tuple[int, ...]:
    word = int.from_bytes(to, "big")
    if name in ("call", "callcode"):
        return (gas, word, value, *io)
    return (gas, word, *io)


IO_SHAPES = [
    (0, 0, 0, 0),
    (0, 32, 0, 32),
    (64, 10, 16, 64),
    (0, 128, 200, 5),
    (0, 0, 2**256 - 1, 0),
]


NAME_AND_VALUE = [
    ("call", 0),
    ("call", 7),
    ("callcode", 0),
    ("callcode", 7),
    ("delegatecall", 0),
    ("staticcall", 0),
]


@pytest.mark.parametrize(("name", "value"), NAME_AND_VALUE)
@pytest.mark.parametrize("callee", sorted(CALLEES))
def test_call_family_with_each_callee(name: str, value: int, callee: str) -> None:
    setup = _setup(CALLEES[callee])
    for io in IO_SHAPES:
        for requested in (0, 5000, 2**256 - 1):
            compare(setup, name, _call_args(name, requested, OTHER, value, io), (OTHER,))


def test_call_results_are_what_the_callee_did() -> None:
    setup = _setup(RETURNER)
    outcome = compare(setup, "call", _call_args("call", 10**5, OTHER, 0, (0, 0, 0, 64)), (OTHER,))
    assert outcome.result == 1
    assert outcome.memory[:40] == WORD + bytes(8) and outcome.memory[40:64] == MEMORY[40:64]
    assert len(outcome.returndata) == 40
    reverted = compare(_setup(REVERTER), "call", _call_args("call", 10**5, OTHER, 0))
    assert reverted.result == 0 and reverted.returndata.endswith(b"\xba\xdb\xad\x00")
    invalid = compare(_setup(INVALID), "call", _call_args("call", 10**5, OTHER, 0))
    assert invalid.result == 0 and invalid.returndata == b""
    # The invalid callee burnt all it was given: 10**5, plus the cold access.
    assert invalid.gas_left == 150_000 - 2600 - 10**5


@pytest.mark.parametrize("name", ["call", "callcode", "delegatecall", "staticcall"])
@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("target", [OTHER, EMPTY, PRECOMPILE, CONTRACT])
def test_access_and_new_account_costs(name: str, warm: bool, target: bytes) -> None:
    setup = _setup(RETURNER, warm_addresses=[target] if warm else [])
    for value in (0, 1):
        if value and name not in ("call", "callcode"):
            continue
        compare(setup, name, _call_args(name, 3000, target, value, (0, 32, 0, 32)), (target,))


def test_value_to_dead_account_pays_new_account() -> None:
    setup = _setup(RETURNER)
    outcome = compare(setup, "call", _call_args("call", 0, EMPTY, 1, (0, 0, 0, 0)), (EMPTY,))
    # cold 2600 + value 9000 + new account 25000; the 2300 stipend the child
    # received on top of its 0 comes back unused, a gain for the caller.
    assert outcome.gas_left == 150_000 - 2600 - 9000 - 25000 + 2300
    assert outcome.result == 1


def test_insufficient_balance_and_depth_fail_without_running() -> None:
    setup = _setup(STORE_AND_LOG, returndata=b"stale")
    poor = compare(setup, "call", _call_args("call", 10**5, OTHER, 10**6))
    assert (poor.result, poor.returndata, poor.logs) == (0, b"", ())
    deep = compare(replace(setup, depth=1024), "call", _call_args("call", 10**5, OTHER, 0))
    assert (deep.result, deep.returndata, deep.logs) == (0, b"", ())
    ok = compare(replace(setup, depth=1023), "call", _call_args("call", 10**5, OTHER, 0))
    assert ok.result == 1 and ok.logs


def test_static_rules() -> None:
    static = _setup(STORE_AND_LOG, is_static=True)
    assert compare(static, "call", _call_args("call", 0, OTHER, 1)).error is WriteProtection
    # CALLCODE may carry value in a static frame (it only pays itself).
    assert compare(static, "callcode", _call_args("callcode", 0, OTHER, 1)).error is None
    # The child inherits the static flag and fails on its SSTORE.
    assert compare(static, "call", _call_args("call", 10**5, OTHER, 0)).result == 0
    assert (
        compare(
            _setup(STORE_AND_LOG), "staticcall", _call_args("staticcall", 10**5, OTHER, 0)
        ).result
        == 0
    )


@pytest.mark.parametrize("name", ["call", "callcode", "delegatecall", "staticcall"])
def test_gas_edges(name: str) -> None:
    setup = _setup(RETURNER)
    args = _call_args(
        name, 2**256 - 1, OTHER, 1 if name in ("call", "callcode") else 0, (0, 64, 100, 64)
    )
    full = compare(setup, name, args, (OTHER,))
    # Below what the frame must pay itself the call halts: memory from 4 to 6
    # words (18 - 12), the cold access, the value transfer.
    up_front = 6 + 2600 + (9000 if name in ("call", "callcode") else 0)
    for gas in range(up_front - 2, up_front + 3):
        compare(replace(setup, gas=gas), name, args, (OTHER,))
    assert compare(replace(setup, gas=up_front - 1), name, args).error is OutOfGas
    assert full.error is None


@given(
    requested=st.integers(0, 200_000) | st.just(2**256 - 1),
    gas=st.integers(0, 120_000),
    value=st.sampled_from([0, 1, 2000]),
    callee=st.sampled_from(sorted(CALLEES)),
    name=st.sampled_from(["call", "callcode", "delegatecall", "staticcall"]),
)
@settings(max_examples=150, deadline=None)
def test_random_calls(requested: int, gas: int, value: int, callee: str, name: str) -> None:
    setup = _setup(CALLEES[callee], gas=gas)
    compare(setup, name, _call_args(name, requested, OTHER, value, (0, 33, 20, 50)), (OTHER,))


def test_delegatecall_and_callcode_context() -> None:
    setup = _setup(WHOAMI)
    delegated = compare(
        setup, "delegatecall", _call_args("delegatecall", 10**5, OTHER, 0, (0, 0, 0, 96))
    )
    caller, value, address = (delegated.memory[i : i + 32] for i in (0, 32, 64))
    assert caller[12:] == CALLER  # the frame's own caller and call value
    assert int.from_bytes(value, "big") == 3
    assert address[12:] == CONTRACT
    coded = compare(setup, "callcode", _call_args("callcode", 10**5, OTHER, 5, (0, 0, 0, 96)))
    assert coded.memory[12:32] == CONTRACT and int.from_bytes(coded.memory[32:64], "big") == 5


def test_clearing_callee_refund_reaches_the_parent() -> None:
    outcome = compare(_setup(CLEARER), "call", _call_args("call", 10**5, OTHER, 0))
    assert outcome.refund == 4800
