"""make_vm_class for Prague and Osaka: compiled frames are indistinguishable from py-evm's.

EIP-7702 delegations are where evmkiln's own CALL builtins had to learn
something (the interpreter gets them from py-evm's Prague opcodes), so each
call kind is run into a delegated account, cold and warm, and compared with
the fork's stock interpreter, state root, logs and gas included.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from message_harness import A, B, C, addr, apply_message

from evmkiln.context import available_backends, make_vm_class
from evmkiln.forks import fork_spec
from evmkiln.forks.opcode_table import own_table

DESIGNATION = bytes.fromhex("ef0100")
# SSTORE(0, CALLVALUE + 1); LOG1(0, 0, 0xaa); STOP
STORE_AND_LOG = bytes.fromhex("346001015f5560aa5f5fa100")
IDENTITY = addr(4)


def _push20(address: bytes) -> str:
    return "73" + address.hex()


def _caller(kind: int, target: bytes, warm_first: bool = False) -> bytes:
    """Call ``target`` with ``kind``, then return (status, gas left after the call).

    With ``warm_first``, BALANCE of the target and EXTCODESIZE of the delegate
    warm both beforehand.
    """
    warm = _push20(target) + "3150" + _push20(C) + "3b50" if warm_first else ""
    value = "6001" if kind in (0xF1, 0xF2) else ""
    call = "5f5f5f5f" + value + _push20(target) + "5a" + f"{kind:02x}"
    return bytes.fromhex(warm + call + "5f52" + "5a602052" + "60405ff3")


def _accounts(kind: int, delegate_to: bytes, warm_first: bool = False) -> dict[bytes, Any]:
    return {
        A: {"code": _caller(kind, B, warm_first), "balance": 10},
        B: {"code": DESIGNATION + delegate_to, "nonce": 1},
        C: {"code": STORE_AND_LOG},
    }


@pytest.fixture(scope="module", params=["prague", "osaka"])
def fork(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module", params=["ir", "llvm", "wasm"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in available_backends():
        pytest.skip(f"backend {name} is not installed")
    return name


@pytest.fixture(scope="module")
def kiln(fork: str, backend: str) -> type[Any]:
    return make_vm_class(
        backend, fork=fork, interpret_on_compile_error=False, replay_inexact_halts=False
    )


def test_classes_build_on_the_forks_own(fork: str, kiln: type[Any]) -> None:
    spec = fork_spec(fork)
    assert issubclass(kiln, spec.vm_class)
    assert issubclass(kiln.get_state_class(), spec.state_class)
    computation = kiln.get_state_class().computation_class
    assert issubclass(computation, spec.computation_class)
    # The fork's opcodes, in a table of the class's own (see evmkiln.forks.opcode_table).
    assert computation.opcodes == own_table(spec.computation_class.opcodes)
    assert computation.opcodes is not spec.computation_class.opcodes
    assert kiln.__name__.startswith("Kiln") and kiln.__name__.endswith(f"{fork.capitalize()}VM")


@pytest.mark.parametrize(
    "kind", [0xF1, 0xF2, 0xF4, 0xFA], ids=["call", "callcode", "dcall", "scall"]
)
@pytest.mark.parametrize("warm_first", [False, True], ids=["cold", "warm"])
def test_calls_into_a_delegated_account_match_pyevm(
    fork: str, kiln: type[Any], kind: int, warm_first: bool
) -> None:
    accounts = _accounts(kind, C, warm_first)
    expected = apply_message(fork_spec(fork).vm_class, accounts, gas=200_000)
    actual = apply_message(kiln, accounts, gas=200_000)
    assert actual == expected
    assert kiln.stats.frames_run_compiled > 0
    if kind == 0xF1:
        # The delegate's code ran on the delegating account: it logged, from B.
        assert expected.success and int.from_bytes(expected.output[:32], "big") == 1
        assert [log[0] for log in expected.logs] == [B]


def test_a_delegation_to_a_precompile_runs_no_precompile(fork: str, kiln: type[Any]) -> None:
    accounts = _accounts(0xF1, IDENTITY)
    expected = apply_message(fork_spec(fork).vm_class, accounts, gas=200_000)
    assert apply_message(kiln, accounts, gas=200_000) == expected
    assert int.from_bytes(expected.output[:32], "big") == 1


D = addr(0xDDDD)
EMPTY = addr(0xE0E0)

# What a designation can point at: code, a precompile, the account itself, another
# delegated account (not followed: its designator runs as code), nothing.
DELEGATES = [C, IDENTITY, B, D, EMPTY]

# One step of the caller, each leaving one word on the stack for the result.
_STEPS = {
    "size": lambda target: _push20(target) + "3b",  # EXTCODESIZE
    "hash": lambda target: _push20(target) + "3f",  # EXTCODEHASH
    # EXTCODECOPY(dest 0, offset 1, size 30), then MLOAD(0)
    "copy": lambda target: "601e60015f" + _push20(target) + "3c5f51",
    "call": lambda target: "5f5f5f5f6001" + _push20(target) + "5a" + "f1",
    "dcall": lambda target: "5f5f5f5f" + _push20(target) + "5a" + "f4",
    "scall": lambda target: "5f5f5f5f" + _push20(target) + "5a" + "fa",
    "returndata": lambda target: "3d",  # RETURNDATASIZE
}


def _observer(steps: list[tuple[str, bytes]]) -> bytes:
    """Run ``steps`` and return the words they produced, in order."""
    body = ""
    for i, (step, target) in enumerate(steps):
        body += _STEPS[step](target) + _push_word(32 * i) + "52"  # MSTORE(32 i, result)
    return bytes.fromhex(body + _push_word(32 * len(steps)) + "5ff3")


def _push_word(value: int) -> str:
    return "61" + value.to_bytes(2, "big").hex()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    delegate=st.sampled_from(DELEGATES),
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(_STEPS)), st.sampled_from([B, C, D, EMPTY])),
        min_size=1,
        max_size=6,
    ),
    gas=st.integers(min_value=3_000, max_value=120_000),
)
def test_delegation_designators_match_pyevm(
    fork: str, kiln: type[Any], delegate: bytes, steps: list[tuple[str, bytes]], gas: int
) -> None:
    """EXTCODE* of a delegated account read its designator; calls run the delegate's code.

    Random mixes of the two, at gas limits that run out anywhere, against the
    fork's interpreter on every backend.
    """
    accounts = {
        A: {"code": _observer(steps), "balance": 10},
        B: {"code": DESIGNATION + delegate, "nonce": 1},
        C: {"code": STORE_AND_LOG},
        D: {"code": DESIGNATION + C, "nonce": 1},
    }
    expected = apply_message(fork_spec(fork).vm_class, accounts, gas=gas)
    assert apply_message(kiln, accounts, gas=gas) == expected


def test_cancun_runs_a_designation_as_code() -> None:
    accounts = _accounts(0xF1, C)
    cancun = make_vm_class(
        "ir", fork="cancun", interpret_on_compile_error=False, replay_inexact_halts=False
    )
    expected = apply_message(fork_spec("cancun").vm_class, accounts, gas=200_000)
    assert apply_message(cancun, accounts, gas=200_000) == expected
    # 0xef is not an instruction: the callee fails, and nothing is logged.
    assert int.from_bytes(expected.output[:32], "big") == 0 and not expected.logs


def test_clz_compiled_for_osaka_only() -> None:
    code = bytes.fromhex("7f" + (1 << 200).to_bytes(32, "big").hex() + "1e5f5260205ff3")
    osaka = make_vm_class(
        "ir", fork="osaka", interpret_on_compile_error=False, replay_inexact_halts=False
    )
    expected = apply_message(fork_spec("osaka").vm_class, {A: {"code": code}})
    actual = apply_message(osaka, {A: {"code": code}})
    assert actual == expected
    assert int.from_bytes(actual.output, "big") == 55
    assert osaka.stats.frames_run_compiled == 1
    prague = make_vm_class(
        "ir", fork="prague", interpret_on_compile_error=False, replay_inexact_halts=False
    )
    undefined = apply_message(prague, {A: {"code": code}})
    assert undefined == apply_message(fork_spec("prague").vm_class, {A: {"code": code}})
    assert not undefined.success


CLZ_OF_CALLDATA = bytes.fromhex("5f351e5f5260205ff3")  # return CLZ(CALLDATALOAD(0))


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize(
    "value", [0, 1, 1 << 63, 1 << 64, 1 << 127, 1 << 128, 1 << 200, 1 << 255, (1 << 256) - 1]
)
def test_clz_of_a_runtime_value_on_every_backend(backend: str, value: int) -> None:
    """Every limb boundary: the wasm backend counts limb by limb."""
    if backend not in available_backends():
        pytest.skip(f"backend {backend} is not installed")
    vm = make_vm_class(
        backend, fork="osaka", interpret_on_compile_error=False, replay_inexact_halts=False
    )
    data = value.to_bytes(32, "big")
    expected = apply_message(fork_spec("osaka").vm_class, {A: {"code": CLZ_OF_CALLDATA}}, data=data)
    assert apply_message(vm, {A: {"code": CLZ_OF_CALLDATA}}, data=data) == expected
    assert int.from_bytes(expected.output, "big") == 256 - value.bit_length()
    assert vm.stats.frames_run_compiled == 1


# CREATE2(0, 0, 0, salt 0) of empty initcode; return its result (the address, or 0).
CREATE2_EMPTY = bytes.fromhex("5f5f5f5ff55f5260205ff3")


def _create2_address(creator: bytes, salt: int, initcode: bytes) -> bytes:
    from eth_hash.auto import keccak

    return keccak(b"\xff" + creator + salt.to_bytes(32, "big") + keccak(initcode))[12:]


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
@pytest.mark.parametrize("fork", ["prague", "osaka"])
def test_create_into_an_address_with_only_storage(backend: str, fork: str) -> None:
    """EIP-7610 (evmkiln's Prague and Osaka): storage alone makes the address a collision.

    The builtins ask the host, which asks the fork's state: compiled CREATE2
    must fail exactly where the fork's interpreter does.  (Cancun is py-evm's
    own, without the rule: see tests/statetest/pyevm_known_failures.txt.)
    """
    if backend not in available_backends():
        pytest.skip(f"backend {backend} is not installed")
    target = _create2_address(A, 0, b"")
    accounts = {A: {"code": CREATE2_EMPTY}, target: {"storage": {1: 1}}}
    vm = make_vm_class(
        backend, fork=fork, interpret_on_compile_error=False, replay_inexact_halts=False
    )
    expected = apply_message(fork_spec(fork).vm_class, accounts, persisted=True)
    assert apply_message(vm, accounts, persisted=True) == expected
    created = int.from_bytes(expected.output, "big")
    assert created == 0
    assert vm.stats.frames_run_compiled == 1


def test_the_default_fork_is_osaka() -> None:
    from evmkiln.forks import DEFAULT_FORK, SUPPORTED_FORKS
    from evmkiln.forks.osaka import OsakaVM

    assert DEFAULT_FORK == SUPPORTED_FORKS[-1] == "osaka"
    vm = make_vm_class("ir")
    assert issubclass(vm, OsakaVM)
    code = bytes.fromhex("60011e5f5260205ff3")  # CLZ(1): an Osaka instruction
    assert int.from_bytes(apply_message(vm, {A: {"code": code}}).output, "big") == 255
