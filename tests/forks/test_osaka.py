"""Osaka on py-evm: each EIP checked on the classes of ``evmkiln.forks.osaka``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.prague import PragueVM

sys.path.insert(0, str(Path(__file__).parents[1] / "context"))

from message_harness import SENDER, SENDER_KEY, A, apply_message, make_state

from evmkiln.forks import SUPPORTED_FORKS, fork_spec
from evmkiln.forks.blobs import PRAGUE_BLOBS
from evmkiln.forks.osaka import OsakaVM
from evmkiln.forks.osaka.constants import TX_GAS_LIMIT_CAP
from evmkiln.forks.osaka.headers import calc_excess_blob_gas_osaka
from evmkiln.forks.osaka.precompiles import modexp_gas, p256_verify


def _returning_word(body: str) -> bytes:
    """``body`` leaves one word on the stack; the code returns it (32 bytes)."""
    return bytes.fromhex(body + "5f52" + "60205ff3")


def test_fork_table_names_each_forks_classes() -> None:
    assert SUPPORTED_FORKS == ("cancun", "prague", "osaka")
    osaka = fork_spec("Osaka")
    assert osaka.vm_class is OsakaVM
    assert osaka.post_key == "Osaka"
    assert issubclass(osaka.state_class, PragueVM.get_state_class())
    assert fork_spec("prague").delegations and not fork_spec("cancun").delegations
    with pytest.raises(ValueError, match="unsupported fork 'frontier'"):
        fork_spec("frontier")


@pytest.mark.parametrize(
    ("value", "leading"),
    [(0, 256), (1, 255), (0xFF, 248), (1 << 255, 0), ((1 << 256) - 1, 0), (1 << 128, 127)],
)
def test_clz_counts_leading_zero_bits_for_5_gas(value: int, leading: int) -> None:
    code = _returning_word("7f" + value.to_bytes(32, "big").hex() + "1e")
    observed = apply_message(OsakaVM, {A: {"code": code}}, gas=100_000)
    assert observed.success
    assert int.from_bytes(observed.output, "big") == leading
    # PUSH32 3 + CLZ 5 + PUSH0 2 + MSTORE 3 + memory 3 + PUSH1 3 + PUSH0 2 + RETURN 0
    assert 100_000 - observed.gas_remaining == 3 + 5 + 2 + 3 + 3 + 3 + 2


def test_clz_is_undefined_before_osaka() -> None:
    code = _returning_word("60011e")
    observed = apply_message(PragueVM, {A: {"code": code}}, gas=100_000)
    assert not observed.success
    assert observed.error == "InvalidInstruction"


@pytest.mark.parametrize(
    ("lengths", "head", "gas"),
    [
        ((1, 1, 1), 3, 500),  # the new minimum (EIP-2565's was 200)
        ((32, 32, 32), (1 << 255), 16 * 255),
        ((64, 32, 64), 2**20, 2 * 8 * 8 * 20),
        ((32, 40, 32), 1, 16 * 16 * 8),
        ((0, 0, 0), 0, 500),
    ],
)
def test_modexp_price_follows_eip_7883(lengths: tuple[int, int, int], head: int, gas: int) -> None:
    base, exponent, modulus = lengths
    assert modexp_gas(base, exponent, modulus, head) == gas


def _modexp_input(base: bytes, exponent: bytes, modulus: bytes) -> bytes:
    lengths = b"".join(len(x).to_bytes(32, "big") for x in (base, exponent, modulus))
    return lengths + base + exponent + modulus


def _call_precompile(address: int, data: bytes, gas: int = 1_000_000) -> Any:
    from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
    from eth.vm.message import Message

    to = address.to_bytes(20, "big")
    state = make_state(OsakaVM, {})
    message = Message(gas=gas, to=to, sender=SENDER, value=0, data=data, code=b"")
    return state.computation_class.apply_message(
        state, message, CancunTransactionContext(gas_price=10, origin=SENDER)
    )


def test_modexp_computes_and_bounds_its_operands() -> None:
    result = _call_precompile(5, _modexp_input(b"\x03", b"\x05", b"\x07"))
    assert result.is_success and result.output == bytes([3**5 % 7])
    assert 1_000_000 - result.get_gas_remaining() == 500
    # EIP-7823: an operand over 1024 bytes is an exceptional halt, all gas gone.
    too_long = _call_precompile(5, _modexp_input(b"\x01" * 1025, b"\x01", b"\x07"))
    assert too_long.is_error and too_long.get_gas_remaining() == 0


def _p256_signature(message_hash: bytes) -> tuple[int, int, int, int]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    key = ec.derive_private_key(0x1234567890ABCDEF, ec.SECP256R1())
    der = key.sign(message_hash, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    numbers = key.public_key().public_numbers()
    return r, s, numbers.x, numbers.y


def test_p256verify_accepts_a_valid_signature_and_nothing_else() -> None:
    digest = bytes(range(32))
    r, s, x, y = _p256_signature(digest)
    assert p256_verify(digest, r, s, x, y)
    assert not p256_verify(bytes(32), r, s, x, y)
    assert not p256_verify(digest, r, s, x, y + 1)  # off the curve
    assert not p256_verify(digest, 0, s, x, y)

    data = digest + b"".join(v.to_bytes(32, "big") for v in (r, s, x, y))
    valid = _call_precompile(0x100, data)
    assert valid.is_success and valid.output == (1).to_bytes(32, "big")
    assert 1_000_000 - valid.get_gas_remaining() == 6900
    short = _call_precompile(0x100, data[:-1])
    assert short.is_success and short.output == b""
    assert 1_000_000 - short.get_gas_remaining() == 6900


def _signed(
    vm_class: Any,
    *,
    gas: int,
    blobs: int = 0,
    tip: int = 1,
    to: bytes = A,
    value: int = 0,
    data: bytes = b"",
) -> Any:
    builder = vm_class.get_transaction_builder()
    common: dict[str, Any] = {
        "chain_id": 1,
        "nonce": 0,
        "max_priority_fee_per_gas": tip,
        "max_fee_per_gas": 100,
        "gas": gas,
        "to": to,
        "value": value,
        "data": data,
        "access_list": (),
    }
    if blobs:
        unsigned = builder.new_unsigned_blob_transaction(
            **common,
            max_fee_per_blob_gas=10,
            blob_versioned_hashes=[b"\x01" + bytes(31)] * blobs,
        )
    else:
        unsigned = builder.new_unsigned_dynamic_fee_transaction(**common)
    return builder.decode(unsigned.as_signed_transaction(SENDER_KEY).encode())


def test_transaction_gas_limit_cap_and_blob_count() -> None:
    from eth_utils.exceptions import ValidationError

    accounts = {SENDER: {"balance": 10**20}}
    state = make_state(OsakaVM, accounts)
    state.validate_transaction(_signed(OsakaVM, gas=TX_GAS_LIMIT_CAP))
    with pytest.raises(ValidationError, match="exceeds the cap"):
        state.validate_transaction(_signed(OsakaVM, gas=TX_GAS_LIMIT_CAP + 1))
    make_state(PragueVM, accounts).validate_transaction(_signed(PragueVM, gas=TX_GAS_LIMIT_CAP + 1))
    state.validate_transaction(_signed(OsakaVM, gas=100_000, blobs=6))
    with pytest.raises(ValidationError, match="7 blobs"):
        state.validate_transaction(_signed(OsakaVM, gas=100_000, blobs=7))


class _Parent:
    def __init__(self, excess: int, used: int, base_fee: int) -> None:
        self.excess_blob_gas = excess
        self.blob_gas_used = used
        self.base_fee_per_gas = base_fee


def test_excess_blob_gas_follows_eip_7918() -> None:
    target = PRAGUE_BLOBS.target_blob_gas_per_block
    full = PRAGUE_BLOBS.max_blob_gas_per_block
    # Blob gas priced well above the execution floor: Prague's rule.
    assert calc_excess_blob_gas_osaka(_Parent(10**8, full, 1)) == 10**8 + full - target
    # Execution gas dear and blobs nearly free: the excess grows by a third of the use.
    assert calc_excess_blob_gas_osaka(_Parent(target, full, 10**9)) == target + full // 3
    assert calc_excess_blob_gas_osaka(_Parent(0, target - 1, 10**9)) == 0


@pytest.mark.parametrize("fork", ["prague", "osaka"])
def test_transaction_rules_py_evm_leaves_out(fork: str) -> None:
    """EIP-4844, EIP-3860, EIP-1559, EIP-3607 and the value in the up-front balance.

    Each rejected transaction here passes stock py-evm's Prague validation;
    evmkiln's Prague and Osaka reject it.
    """
    kiln = fork_spec(fork).vm_class
    from eth.constants import CREATE_CONTRACT_ADDRESS
    from eth_utils.exceptions import ValidationError

    rich = {SENDER: {"balance": 10**20}}
    state = make_state(kiln, rich)
    prague = make_state(PragueVM, rich)
    cases = [
        (_signed(kiln, gas=100_000, tip=101), "exceeds max fee"),
        (
            _signed(kiln, gas=10_000_000, to=CREATE_CONTRACT_ADDRESS, data=bytes(49_153)),
            "initcode of 49153 bytes",
        ),
        (
            _signed(kiln, gas=100_000, blobs=1, to=CREATE_CONTRACT_ADDRESS),
            "type 3 cannot create a contract",
        ),
    ]
    for transaction, reason in cases:
        prague.validate_transaction(transaction)
        with pytest.raises(ValidationError, match=reason):
            state.validate_transaction(transaction)
    state.validate_transaction(
        _signed(kiln, gas=10_000_000, to=CREATE_CONTRACT_ADDRESS, data=bytes(49_152))
    )

    # The balance must cover gas at the max fee *plus* the value.
    gas_cost = 100_000 * 100
    poor = {SENDER: {"balance": gas_cost + 5}}
    make_state(kiln, poor).validate_transaction(_signed(kiln, gas=100_000, value=5))
    too_much = _signed(kiln, gas=100_000, value=6)
    make_state(PragueVM, poor).validate_transaction(too_much)
    with pytest.raises(ValidationError, match="up-front cost"):
        make_state(kiln, poor).validate_transaction(too_much)

    # A sender with code is no EOA, unless the code is a delegation designation.
    contract = {SENDER: {"balance": 10**20, "code": b"\x00"}}
    with pytest.raises(ValidationError, match="not an externally owned account"):
        make_state(kiln, contract).validate_transaction(_signed(kiln, gas=100_000))
    delegated = {SENDER: {"balance": 10**20, "code": bytes.fromhex("ef0100") + A}}
    make_state(kiln, delegated).validate_transaction(_signed(kiln, gas=100_000))


def test_storage_alone_is_a_collision_for_evmkilns_forks() -> None:
    """EIP-7610 on the state's collision question, which py-evm's CREATE opcodes ask."""
    accounts = {A: {"storage": {0: 1}}}
    for fork in ("prague", "osaka"):
        kiln = fork_spec(fork).vm_class
        assert make_state(kiln, accounts, persisted=True).has_code_or_nonce(A)
        assert not make_state(kiln, {A: {"storage": {0: 0}}}, persisted=True).has_code_or_nonce(A)
    assert not make_state(PragueVM, accounts, persisted=True).has_code_or_nonce(A)
    assert not make_state(fork_spec("cancun").vm_class, accounts, persisted=True).has_code_or_nonce(
        A
    )
