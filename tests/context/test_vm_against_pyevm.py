"""The dispatching VM (with the reference IR backend) is indistinguishable from py-evm."""

from __future__ import annotations

from typing import Any

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth_utils.logging import DEBUG2_LEVEL_NUM
from message_harness import (
    SENDER,
    A,
    B,
    C,
    apply_message,
    apply_transaction,
    execution_context,
    forget_debug2,
)

from evmkiln.context import make_vm_class
from evmkiln.context.vm import BEYOND_NATIVE_GAS, MAX_NATIVE_GAS

KILN = make_vm_class("ir", fork="cancun", replay_inexact_halts=False)


def asm(hex_parts: str) -> bytes:
    return bytes.fromhex(hex_parts.replace(" ", ""))


def push20(address: bytes) -> str:
    return "73" + address.hex()


# Returns 40 bytes: 32 recognisable bytes then 8 zeros.
RETURNER = asm("7f" + bytes(range(0xA0, 0xC0)).hex() + "5f52 6028 5ff3")
REVERTER = asm("63badbad00 5f52 6020 5ffd")
# SSTORE(0, CALLVALUE + 1); LOG1(0, 0, 0xaa); then falls through (or ends the code).
STORE_AND_LOG = asm("346001 01 5f55 60aa5f5fa1")
CLEARER = asm("5f5f55 00")
BURNER = asm("5b5f56")
# Deploys the two bytes 0x5f00.
DEPLOY_SMALL = asm("6002600a5f39 60025ff3 5f00")
# Initcode of a contract that deploys SELFDESTRUCT(caller): 0x33ff.
DEPLOY_SUICIDAL = asm("6002600a5f39 60025ff3 33ff")


def call_then_return(target: bytes, value: int = 0, gas: str = "5a") -> bytes:
    """CALL target with no input; then return the callee's return data, then the call status."""
    return asm(
        f"5f5f5f5f 60{value:02x} {push20(target)} {gas} f1"  # status on the stack
        "3d5f5f3e"  # RETURNDATACOPY(0, 0, RETURNDATASIZE)
        "3d 52"  # MSTORE(RETURNDATASIZE, status)
        "3d6020 01 5f f3"  # RETURN(0, RETURNDATASIZE + 32)
    )


def create_in_memory(initcode: bytes, salted: bool = False) -> bytes:
    """Store ``initcode`` in memory, CREATE (or CREATE2) it, call it, return its address."""
    assert len(initcode) <= 32
    word = initcode.ljust(32, b"\x00")
    create = (
        f"60{len(initcode):02x} 5f 5f f0" if not salted else f"6077 60{len(initcode):02x} 5f 5f f5"
    )
    return asm(
        "7f"
        + word.hex()
        + "5f52"  # MSTORE(0, initcode padded)
        + create  # address on the stack
        + "80"  # DUP1
        + "5f5f5f5f5f 85 5a f1 50"  # CALL(gas, address, 0, 0, 0, 0, 0); POP
        + "5f52 60205ff3"  # MSTORE(0, address); RETURN(0, 32)
    )


SCENARIOS: dict[str, dict[str, Any]] = {
    "stop": {"accounts": {A: {"code": asm("00")}}},
    "return": {"accounts": {A: {"code": RETURNER}}},
    "revert": {"accounts": {A: {"code": REVERTER}}},
    "invalid": {"accounts": {A: {"code": asm("fe")}}},
    "undefined opcode": {"accounts": {A: {"code": asm("6001 0c")}}},
    "out of gas": {"accounts": {A: {"code": BURNER}}},
    "stack underflow": {"accounts": {A: {"code": asm("01")}}},
    "bad jump": {"accounts": {A: {"code": asm("6003 56 00")}}},
    "store, log and refund": {
        "accounts": {A: {"code": STORE_AND_LOG + CLEARER, "storage": {0: 5}}},
        "value": 3,
    },
    "clear refund": {"accounts": {A: {"code": CLEARER, "storage": {0: 5}}}},
    "call returner": {"accounts": {A: {"code": call_then_return(B)}, B: {"code": RETURNER}}},
    "call reverter": {"accounts": {A: {"code": call_then_return(B)}, B: {"code": REVERTER}}},
    "call burner": {
        "accounts": {A: {"code": call_then_return(B, gas="61ffff")}, B: {"code": BURNER}}
    },
    "call with value": {
        "accounts": {
            A: {"code": call_then_return(B, value=9), "balance": 100},
            B: {"code": STORE_AND_LOG},
        }
    },
    "call empty account with value": {
        "accounts": {A: {"code": call_then_return(C, value=1), "balance": 100}}
    },
    "call precompile": {"accounts": {A: {"code": call_then_return(bytes(19) + b"\x04")}}},
    "nested compiled calls": {
        "accounts": {
            A: {"code": call_then_return(B)},
            B: {"code": call_then_return(C)},
            C: {"code": STORE_AND_LOG},
        }
    },
    "create": {"accounts": {A: {"code": create_in_memory(DEPLOY_SMALL), "nonce": 1}}},
    "create2": {"accounts": {A: {"code": create_in_memory(DEPLOY_SMALL, salted=True)}}},
    "created contract self-destructs": {
        "accounts": {A: {"code": create_in_memory(DEPLOY_SUICIDAL), "balance": 5}}
    },
    "old contract self-destructs": {
        "accounts": {A: {"code": asm(push20(C) + "ff"), "balance": 5}},
    },
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("gas", [1_000_000, 30_000])
def test_message_matches_pyevm(scenario: str, gas: int) -> None:
    spec = SCENARIOS[scenario]
    kwargs = {"value": spec.get("value", 0), "gas": gas}
    accounts = {SENDER: {"balance": 10**18}} | spec["accounts"]
    expected = apply_message(CancunVM, accounts, **kwargs)
    KILN.stats.reset()
    actual = apply_message(KILN, accounts, **kwargs)
    assert actual == expected
    assert KILN.stats.frames_run_compiled >= 1
    assert KILN.stats.compile_failures == 0, KILN.stats.failures


def test_scenarios_cover_success_revert_and_halts() -> None:
    errors = set()
    for spec in SCENARIOS.values():
        accounts = {SENDER: {"balance": 10**18}} | spec["accounts"]
        errors.add(apply_message(CancunVM, accounts, value=spec.get("value", 0)).error)
    assert {"", "Revert", "InvalidInstruction", "OutOfGas", "InsufficientStack"} <= errors
    assert "InvalidJumpDestination" in errors


@pytest.mark.parametrize("initcode", [DEPLOY_SMALL, DEPLOY_SUICIDAL, REVERTER, asm("fe")])
@pytest.mark.parametrize("gas", [1_000_000, 53_100])
def test_create_message_matches_pyevm(initcode: bytes, gas: int) -> None:
    accounts = {SENDER: {"balance": 10**18}}
    expected = apply_message(CancunVM, accounts, initcode=initcode, gas=gas)
    actual = apply_message(KILN, accounts, initcode=initcode, gas=gas)
    assert actual == expected


@pytest.mark.parametrize("target", [A, B], ids=["store-log-refund", "create-and-self-destruct"])
def test_signed_transaction_matches_pyevm(target: bytes) -> None:
    accounts = {
        A: {"code": STORE_AND_LOG + CLEARER, "storage": {0: 5}},
        B: {"code": create_in_memory(DEPLOY_SUICIDAL), "balance": 5},
    }
    expected = apply_transaction(CancunVM, accounts, to=target, value=2)
    actual = apply_transaction(KILN, accounts, to=target, value=2)
    assert actual == expected


@pytest.mark.parametrize("target", [A, B], ids=["store-log-refund", "create-and-self-destruct"])
def test_finalisation_logs_as_pyevms_when_debug2_is_on(
    target: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Refund, fee and deleted accounts: py-evm's DEBUG2 lines, formatted only when on."""
    accounts = {
        A: {"code": STORE_AND_LOG + CLEARER, "storage": {0: 5}},
        B: {"code": create_in_memory(DEPLOY_SUICIDAL), "balance": 5},
    }
    finalisation = ("TRANSACTION REFUND", "TRANSACTION FEE", "DELETING ACCOUNT")

    def lines(vm_class: Any) -> list[str]:
        logger = vm_class.get_state_class()(AtomicDB(), execution_context(), BLANK_ROOT_HASH).logger
        forget_debug2(logger)
        caplog.clear()
        try:
            with caplog.at_level(DEBUG2_LEVEL_NUM, logger=logger.name):
                apply_transaction(vm_class, accounts, to=target, value=2)
        finally:
            forget_debug2(logger)
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith(finalisation)]

    expected = lines(CancunVM)
    assert any(line.startswith("TRANSACTION FEE") for line in expected)
    assert lines(KILN) == expected


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize(
    ("gas", "interpreted"), [(MAX_NATIVE_GAS, 0), (MAX_NATIVE_GAS + 1, 1), (2**256 - 1, 3)]
)
def test_gas_beyond_native_counters_is_interpreted(
    backend: str, gas: int, interpreted: int
) -> None:
    """A top-level message may carry more gas than a native backend's signed 64-bit
    counter: a frame with that much is interpreted (the native backends raised
    ``ValueError``); a child given less (all but a 64th) runs compiled."""
    spec = SCENARIOS["nested compiled calls"]
    accounts = {SENDER: {"balance": 10**18}} | spec["accounts"]
    kiln = make_vm_class(backend, fork="cancun")
    assert apply_message(kiln, accounts, gas=gas) == apply_message(CancunVM, accounts, gas=gas)
    assert kiln.stats.interpreted_for.get(BEYOND_NATIVE_GAS, 0) == interpreted
    assert kiln.stats.frames_run_compiled == 3 - interpreted
