"""CREATE, CREATE2 and SELFDESTRUCT agree with py-evm."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth._utils.address import generate_contract_address, generate_safe_contract_address
from eth.exceptions import OutOfGas, WriteProtection
from hypothesis import given, settings
from hypothesis import strategies as st
from opcode_harness import CONTRACT, EMPTY, OTHER, PRECOMPILE, Account, Setup, compare
from sample_code import (
    BURNER,
    DEPLOY_EF,
    DEPLOY_SMALL,
    INIT_STORE_AND_LOG,
    INVALID,
    REVERTER,
)

from evmkiln.builtins.impl.addresses import create2_address, create_address, word_to_address

INITCODES = {
    "deploy_small": DEPLOY_SMALL,
    "deploy_ef": DEPLOY_EF,
    "store_and_log": INIT_STORE_AND_LOG,
    "reverter": REVERTER,
    "invalid": INVALID,
    "burner": BURNER,
    "empty": b"",
}
NONCE = 5
SALT = 0x5A17


def _setup(initcode: bytes, **changes: object) -> Setup:
    base = Setup(
        accounts={CONTRACT: Account(balance=1000, nonce=NONCE)},
        memory=initcode,
        gas=200_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _targets(initcode: bytes) -> tuple[bytes, bytes]:
    return create_address(CONTRACT, NONCE), create2_address(CONTRACT, SALT, initcode)


def _args(name: str, value: int, offset: int, size: int) -> tuple[int, ...]:
    return (value, offset, size) if name == "create" else (value, offset, size, SALT)


@pytest.mark.parametrize("name", ["create", "create2"])
@pytest.mark.parametrize("initcode", sorted(INITCODES))
@pytest.mark.parametrize("value", [0, 9])
def test_create_with_each_initcode(name: str, initcode: str, value: int) -> None:
    code = INITCODES[initcode]
    setup = _setup(code)
    outcome = compare(setup, name, _args(name, value, 0, len(code)), _targets(code))
    assert outcome.error is None
    succeeded = initcode in ("deploy_small", "store_and_log", "empty")
    assert (outcome.result != 0) == succeeded
    if succeeded:
        expected = _targets(code)[0 if name == "create" else 1]
        assert outcome.result == int.from_bytes(expected, "big")
        assert outcome.returndata == b""


def test_revert_reason_becomes_return_data() -> None:
    outcome = compare(_setup(REVERTER), "create", _args("create", 0, 0, len(REVERTER)))
    assert outcome.result == 0 and outcome.returndata.endswith(b"\xba\xdb\xad\x00")


@pytest.mark.parametrize("name", ["create", "create2"])
def test_failures_without_a_child(name: str) -> None:
    code = DEPLOY_SMALL
    args = _args(name, 0, 0, len(code))
    poor = compare(_setup(code, returndata=b"old"), name, _args(name, 1001, 0, len(code)))
    assert (poor.result, poor.returndata) == (0, b"")
    deep = compare(_setup(code, depth=1024), name, args)
    assert deep.result == 0
    maxed = _setup(code, accounts={CONTRACT: Account(balance=1000, nonce=2**64 - 1)})
    assert compare(maxed, name, args).result == 0
    assert compare(_setup(code, is_static=True), name, args).error is WriteProtection


@pytest.mark.parametrize("name", ["create", "create2"])
@pytest.mark.parametrize("occupant", [Account(nonce=1), Account(code=b"\x00"), Account(balance=5)])
def test_collision(name: str, occupant: Account) -> None:
    code = DEPLOY_SMALL
    target = _targets(code)[0 if name == "create" else 1]
    setup = _setup(code, accounts={CONTRACT: Account(balance=1000, nonce=NONCE), target: occupant})
    outcome = compare(setup, name, _args(name, 0, 0, len(code)), (target,))
    # Only code or a nonce collide; a balance alone does not.
    assert (outcome.result == 0) == (occupant.balance == 0)


def test_create2_clears_storage_left_at_the_target() -> None:
    code = DEPLOY_SMALL
    target = create2_address(CONTRACT, SALT, code)
    setup = _setup(
        code,
        accounts={CONTRACT: Account(balance=1000, nonce=NONCE), target: Account(storage={1: 7})},
    )
    assert compare(setup, "create2", _args("create2", 0, 0, len(code)), (target,)).result != 0
    failing = replace(
        setup,
        memory=INVALID,
        accounts={
            CONTRACT: Account(balance=1000, nonce=NONCE),
            create2_address(CONTRACT, SALT, INVALID): Account(storage={1: 7}),
        },
    )
    assert compare(failing, "create2", _args("create2", 0, 0, 1)).result == 0


@pytest.mark.parametrize("name", ["create", "create2"])
def test_initcode_size_limit(name: str) -> None:
    setup = _setup(b"", gas=10**7)
    assert compare(setup, name, _args(name, 0, 0, 49152)).error is None
    assert compare(setup, name, _args(name, 0, 0, 49153)).error is OutOfGas


@given(
    gas=st.integers(32_000, 80_000),
    offset=st.integers(0, 64) | st.just(2**256 - 1),
    size=st.integers(0, 40),
    name=st.sampled_from(["create", "create2"]),
    initcode=st.sampled_from(sorted(INITCODES)),
)
@settings(max_examples=120, deadline=None)
def test_random_creates(gas: int, offset: int, size: int, name: str, initcode: str) -> None:
    code = INITCODES[initcode]
    compare(_setup(code, gas=gas), name, _args(name, 0, offset, size), _targets(code))


@given(st.binary(min_size=20, max_size=20), st.integers(0, 2**64 - 1))
def test_create_address_matches_pyevm(sender: bytes, nonce: int) -> None:
    assert create_address(sender, nonce) == generate_contract_address(sender, nonce)


@given(st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1), st.binary(max_size=80))
def test_create2_address_matches_pyevm(sender: bytes, salt: int, initcode: bytes) -> None:
    assert create2_address(sender, salt, initcode) == generate_safe_contract_address(
        sender, salt, initcode
    )


def test_word_to_address_drops_high_bits() -> None:
    assert word_to_address((0xFF << 160) | 0x1234) == (0x1234).to_bytes(20, "big")


# -- SELFDESTRUCT -------------------------------------------------------------

TOUCHED_EMPTY = (0xE0).to_bytes(20, "big")


@pytest.mark.parametrize("created", [False, True])
@pytest.mark.parametrize("beneficiary", [OTHER, EMPTY, TOUCHED_EMPTY, CONTRACT, PRECOMPILE])
@pytest.mark.parametrize("balance", [0, 1000])
@pytest.mark.parametrize("warm", [False, True])
def test_selfdestruct(created: bool, beneficiary: bytes, balance: int, warm: bool) -> None:
    setup = Setup(
        accounts={
            CONTRACT: Account(balance=balance, storage={0: 1}),
            OTHER: Account(balance=3),
            TOUCHED_EMPTY: Account(),
        },
        contracts_created=[CONTRACT] if created else [],
        warm_addresses=[beneficiary] if warm else [],
    )
    word = int.from_bytes(beneficiary, "big")
    outcome = compare(setup, "selfdestruct", (word,), (beneficiary,))
    assert outcome.error is None
    assert outcome.deleted == ((CONTRACT,) if created else ())
    assert outcome.beneficiaries == (beneficiary,)
    needed = setup.gas - (outcome.gas_left or 0)
    assert compare(replace(setup, gas=needed), "selfdestruct", (word,)).gas_left == 0
    short = compare(replace(setup, gas=needed - 1), "selfdestruct", (word,))
    assert short.error is OutOfGas


def test_selfdestruct_prices_and_static() -> None:
    setup = Setup(accounts={CONTRACT: Account(balance=10)})
    outcome = compare(setup, "selfdestruct", (int.from_bytes(EMPTY, "big"),))
    # static 5000 (by the IR), cold 2600, value to a dead account 25000
    assert outcome.gas_left == setup.gas - 5000 - 2600 - 25000
    static = replace(setup, is_static=True)
    assert compare(static, "selfdestruct", (0,)).error is WriteProtection
