"""evmkiln's transaction classes against py-evm's: same checks, same sender, one recovery."""

from __future__ import annotations

import copy
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import rlp
from eth.vm.forks.berlin.transactions import AccountAccesses
from eth_hash.auto import keccak
from eth_keys import keys
from eth_keys.datatypes import Signature
from eth_utils import ValidationError
from fresh_process import unpickled_elsewhere
from hypothesis import given, settings
from hypothesis import strategies as st

from evmkiln.context import make_vm_class, transaction_classes
from evmkiln.context.serializable_encoding import message_for_signing
from evmkiln.context.transaction_classes import (
    SENDER_CACHE_SIZE,
    RecoveredOnce,
    RecoveredOnceTyped,
    clear_sender_cache,
)
from evmkiln.forks import SUPPORTED_FORKS, fork_spec

KEY = keys.PrivateKey(b"\x07" * 32)
SENDER = KEY.public_key.to_canonical_address()
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module", params=SUPPORTED_FORKS)
def builders(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """(py-evm's builder, evmkiln's builder) of one fork."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        kiln = make_vm_class("ir", request.param, persistent_cache=False)
    return fork_spec(
        request.param
    ).vm_class.get_transaction_builder(), kiln.get_transaction_builder()


def _legacy(builder: Any) -> Any:
    unsigned = builder.create_unsigned_transaction(
        nonce=3, gas_price=7, gas=50_000, to=b"\x11" * 20, value=5, data=b"\x01\x02"
    )
    return unsigned.as_signed_transaction(KEY, chain_id=1)


def _dynamic_fee(builder: Any) -> Any:
    unsigned = builder.new_unsigned_dynamic_fee_transaction(
        chain_id=1,
        nonce=3,
        max_priority_fee_per_gas=1,
        max_fee_per_gas=9,
        gas=50_000,
        to=b"\x11" * 20,
        value=5,
        data=b"\x01",
        access_list=((b"\x22" * 20, (1, 2)),),
    )
    return builder.decode(unsigned.as_signed_transaction(KEY).encode())


def _encoded(transaction: Any) -> bytes:
    encode = getattr(transaction, "encode", None)
    return bytes(encode()) if callable(encode) else rlp.encode(transaction)


def test_transactions_are_evmkilns(builders: tuple[Any, Any]) -> None:
    _, kiln = builders
    assert isinstance(_legacy(kiln), RecoveredOnce)
    assert isinstance(kiln.decode(_encoded(_legacy(kiln))), RecoveredOnce)
    assert isinstance(_dynamic_fee(kiln), RecoveredOnceTyped)


@pytest.mark.parametrize("make", [_legacy, _dynamic_fee])
def test_same_transaction_same_sender_and_encoding(builders: tuple[Any, Any], make: Any) -> None:
    stock, kiln = builders
    ours, theirs = make(kiln), make(stock)
    assert _encoded(ours) == _encoded(theirs)
    ours.validate()
    theirs.validate()
    assert ours.sender == theirs.sender == SENDER
    assert ours.hash == theirs.hash


@pytest.fixture
def recoveries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Elliptic-curve recoveries made (py-evm's and ours), from an empty sender cache."""
    clear_sender_cache()
    counted = [0]
    original = Signature.recover_public_key_from_msg_hash

    def counting(self: Signature, message_hash: bytes) -> Any:
        counted[0] += 1
        return original(self, message_hash)

    monkeypatch.setattr(Signature, "recover_public_key_from_msg_hash", counting)
    recover = transaction_classes.recover_public_key

    def counting_compact(signature: bytes, message_hash: bytes) -> bytes:
        counted[0] += 1
        return recover(signature, message_hash)

    monkeypatch.setattr(transaction_classes, "recover_public_key", counting_compact)
    yield counted
    clear_sender_cache()


@pytest.mark.parametrize(
    ("make", "pyevm_recoveries"),
    # py-evm checks a legacy signature by recovering and verifying, then recovers
    # again for the sender; a typed one's ``validate`` does not check it.
    [(_legacy, 2), (_dynamic_fee, 1)],
)
def test_one_recovery_validates_and_names_the_sender(
    builders: tuple[Any, Any], make: Any, pyevm_recoveries: int, recoveries: list[int]
) -> None:
    stock, kiln = builders
    theirs = stock.decode(_encoded(make(stock)))
    recoveries[0] = 0
    theirs.validate()
    assert theirs.sender == SENDER
    assert recoveries[0] == pyevm_recoveries

    ours = kiln.decode(_encoded(make(kiln)))
    recoveries[0] = 0
    ours.validate()
    assert ours.sender == SENDER
    ours.validate()
    assert recoveries[0] == 1


def test_sender_read_first_needs_no_second_recovery(
    builders: tuple[Any, Any], recoveries: list[int]
) -> None:
    _, kiln = builders
    ours = kiln.decode(_encoded(_legacy(kiln)))
    recoveries[0] = 0
    assert ours.sender == SENDER
    ours.validate()
    assert recoveries[0] == 1


@pytest.mark.parametrize("make", [_legacy, _dynamic_fee])
def test_a_signature_met_again_is_not_recovered_again(
    builders: tuple[Any, Any], make: Any, recoveries: list[int]
) -> None:
    _, kiln = builders
    encoded = _encoded(make(kiln))
    first = kiln.decode(encoded)
    first.validate()
    assert first.sender == SENDER
    assert recoveries[0] == 1
    again = kiln.decode(encoded)  # a new object: decoded from a block, or sent after an estimate
    again.validate()
    assert again.sender == SENDER
    assert recoveries[0] == 1
    clear_sender_cache()
    assert kiln.decode(encoded).sender == SENDER
    assert recoveries[0] == 2


def test_the_sender_cache_is_bounded_and_keeps_the_recent(
    builders: tuple[Any, Any], recoveries: list[int]
) -> None:
    _, kiln = builders
    signed = []
    for nonce in range(SENDER_CACHE_SIZE + 1):
        unsigned = kiln.create_unsigned_transaction(
            nonce=nonce, gas_price=7, gas=50_000, to=b"\x11" * 20, value=5, data=b""
        )
        signed.append(_encoded(unsigned.as_signed_transaction(KEY, chain_id=1)))
    for encoded in signed:
        assert kiln.decode(encoded).sender == SENDER
    assert recoveries[0] == SENDER_CACHE_SIZE + 1
    assert kiln.decode(signed[-1]).sender == SENDER  # recent: remembered
    assert recoveries[0] == SENDER_CACHE_SIZE + 1
    assert kiln.decode(signed[0]).sender == SENDER  # the oldest was forgotten
    assert recoveries[0] == SENDER_CACHE_SIZE + 2


def _outcome(transaction: Any) -> tuple[str, str, bytes | None]:
    """How validating a transaction and reading its sender end: exception and message,
    or the sender."""
    try:
        transaction.validate()
        transaction.check_signature_validity()
        return "", "", bytes(transaction.sender)
    except Exception as exc:
        return type(exc).__name__, str(exc), None


def _sender_outcome(transaction: Any) -> tuple[str, str, bytes | None]:
    """Reading the sender alone (what the state does for a typed transaction)."""
    try:
        return "", "", bytes(transaction.sender)
    except Exception as exc:
        return type(exc).__name__, str(exc), None


SIGNATURE_VALUES = st.one_of(
    st.sampled_from(
        [0, 1, 2, SECP256K1_N // 2, SECP256K1_N // 2 + 1, SECP256K1_N - 1, SECP256K1_N]
    ),
    st.integers(0, 2**256 - 1),
)


@settings(max_examples=60, deadline=None)
@given(r=SIGNATURE_VALUES, s=SIGNATURE_VALUES, flip=st.booleans(), typed=st.booleans())
def test_any_signature_is_judged_as_pyevm_judges_it(
    builders: tuple[Any, Any], r: int, s: int, flip: bool, typed: bool
) -> None:
    """Random (r, s) and a flipped parity: the same exception and message, or the same sender."""
    stock, kiln = builders
    make = _dynamic_fee if typed else _legacy
    encodings = []
    for builder in (stock, kiln):
        signed = make(builder)
        inner = getattr(signed, "_inner", signed)
        fields = {"r": r, "s": s}
        if typed:
            fields["y_parity"] = inner.y_parity ^ flip
        else:
            fields["v"] = inner.v ^ flip
        changed = inner.copy(**fields)
        encodings.append((b"\x02" + rlp.encode(changed)) if typed else rlp.encode(changed))
    assert encodings[0] == encodings[1]
    try:
        theirs = stock.decode(encodings[0])
    except Exception as exc:  # values rlp or py-evm refuse to decode: refused alike
        with pytest.raises(type(exc)):
            kiln.decode(encodings[1])
        return
    ours = kiln.decode(encodings[1])
    assert _outcome(ours) == _outcome(theirs)
    fresh_ours, fresh_theirs = kiln.decode(encodings[1]), stock.decode(encodings[0])
    assert _sender_outcome(fresh_ours) == _sender_outcome(fresh_theirs)


@pytest.mark.parametrize("make", [_legacy, _dynamic_fee])
def test_a_transaction_met_again_is_not_encoded_for_signing_again(
    builders: tuple[Any, Any], make: Any, recoveries: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remembered sender is found from the fields, without py-evm's message encoding."""
    _, kiln = builders
    encoded = _encoded(make(kiln))
    first = kiln.decode(encoded)
    inner_class = type(getattr(first, "_inner", first))
    encodings = [0]
    original = inner_class.get_message_for_signing

    def counting(self: Any) -> bytes:
        encodings[0] += 1
        return bytes(original(self))

    monkeypatch.setattr(inner_class, "get_message_for_signing", counting)
    assert first.sender == SENDER
    assert encodings[0] == 1
    again = kiln.decode(encoded)
    again.validate()
    assert again.sender == SENDER
    assert (encodings[0], recoveries[0]) == (1, 1)


def test_the_class_is_part_of_what_is_remembered(
    builders: tuple[Any, Any], recoveries: list[int]
) -> None:
    """Equal fields in a class that signs another message name that message's signer."""
    _, kiln = builders
    signed = kiln.decode(_encoded(_legacy(kiln)))
    assert signed.sender == SENDER

    class OtherMessage(type(signed)):  # type: ignore[misc]
        def get_message_for_signing(self) -> bytes:
            return b"another message" + bytes(super().get_message_for_signing())

    other = OtherMessage(*(getattr(signed, name) for name in signed._meta.field_names))
    assert tuple(other) == tuple(signed)
    recovered = Signature(
        vrs=(signed.y_parity, signed.r, signed.s)
    ).recover_public_key_from_msg_hash(keccak(other.get_message_for_signing()))
    assert other.sender == recovered.to_canonical_address() != SENDER
    assert kiln.decode(_encoded(signed)).sender == SENDER


def test_fields_that_cannot_be_pickled_are_recovered_each_time(
    builders: tuple[Any, Any], recoveries: list[int]
) -> None:
    _, kiln = builders
    signed = kiln.decode(_encoded(_legacy(kiln)))

    class LocalBytes(bytes):
        """A class pickle cannot name (it is local to this test)."""

    fields = {name: getattr(signed, name) for name in signed._meta.field_names}
    for _ in range(2):
        made = type(signed)(**{**fields, "data": LocalBytes(fields["data"])})
        with pytest.raises((AttributeError, pickle.PicklingError)):
            pickle.dumps(made.data)
        assert made.sender == SENDER
    assert recoveries[0] == 2


UINT256 = 2**256 - 1
FIELD_BOUNDS: dict[str, list[Any]] = {
    "nonce": [0, 1, 2**64 - 2, 2**64 - 1, 2**64, -1, True, 5],
    "gas_price": [0, 7, UINT256, UINT256 + 1, -1, False],
    "gas": [0, 21_000, 20_999, 50_000, UINT256, UINT256 + 1, -3],
    "to": [b"", b"\x11" * 20, b"\x11" * 19, b"\x11" * 21, "0x11"],
    "value": [0, 5, UINT256, UINT256 + 1, -5],
    "data": [b"", b"\x01\x02", bytearray(b"\x01"), "01"],
    "v": [26, 27, 28, 29, 34, 35, 36, 37, 38, 2**70, UINT256 + 1, -27],
    "r": [0, 1, SECP256K1_N - 1, SECP256K1_N, UINT256 + 1, True],
    "s": [0, 1, SECP256K1_N // 2, SECP256K1_N // 2 + 1, SECP256K1_N - 1, SECP256K1_N],
}
field_values = {name: st.sampled_from(values) for name, values in FIELD_BOUNDS.items()}


def _validated_alike(stock: Any, kiln: Any, changes: dict[str, Any]) -> tuple[str, str]:
    """A signed legacy transaction with ``changes`` validated by py-evm's class and by
    evmkiln's: the same exception and message, or both accept; that outcome."""
    signed = _legacy(kiln)
    fields = {name: changes.get(name, getattr(signed, name)) for name in signed._meta.field_names}
    return _judged_alike(stock, kiln, lambda builder: builder.legacy_signed(**fields))


def _judged_alike(stock: Any, kiln: Any, make: Any) -> tuple[str, str]:
    """``make(builder).validate()`` for py-evm's builder and evmkiln's: the same
    exception and message, or both accept; that outcome."""
    outcomes = []
    for builder in (stock, kiln):
        try:
            make(builder).validate()
            outcomes.append(("", ""))
        except Exception as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def test_each_legacy_field_at_its_bounds_is_judged_as_pyevm_judges_it(
    builders: tuple[Any, Any],
) -> None:
    """Every field check of a legacy ``validate``, one field at or past a bound."""
    stock, kiln = builders
    accepted = 0
    for name, values in FIELD_BOUNDS.items():
        for value in values:
            accepted += _validated_alike(stock, kiln, {name: value}) == ("", "")
    assert accepted > 10


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=field_values))
def test_legacy_fields_are_judged_as_pyevm_judges_them(
    builders: tuple[Any, Any], changes: dict[str, Any]
) -> None:
    """Several fields changed at once: the first failing check's error, as py-evm's."""
    stock, kiln = builders
    _validated_alike(stock, kiln, changes)


def test_a_plain_legacy_transaction_skips_the_field_checks(
    builders: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import eth.vm.forks.frontier.transactions as frontier

    _, kiln = builders
    checks = [0]
    original = frontier.validate_uint256

    def counting(*args: Any, **kwargs: Any) -> None:
        checks[0] += 1
        original(*args, **kwargs)

    monkeypatch.setattr(frontier, "validate_uint256", counting)
    signed = kiln.decode(_encoded(_legacy(kiln)))
    signed.validate()
    assert checks[0] == 0
    unplain = signed.copy(value=-1)
    with pytest.raises(ValidationError, match=r"Transaction\.value cannot be negative"):
        unplain.validate()
    assert checks[0] > 0
    short_of_gas = signed.copy(gas=20_999)
    with pytest.raises(ValidationError, match="Insufficient gas"):
        short_of_gas.validate()


@pytest.mark.parametrize("to", [b"\x11" * 20, b""], ids=["call", "create"])
def test_the_intrinsic_gas_is_pyevms_computed_once(
    builders: tuple[Any, Any], to: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock, kiln = builders
    data = b"\x00\x01" * 40 + b"\x60" * 33
    made = []
    for builder in (stock, kiln):
        unsigned = builder.create_unsigned_transaction(
            nonce=0, gas_price=7, gas=500_000, to=to, value=0, data=data
        )
        made.append(builder.decode(_encoded(unsigned.as_signed_transaction(KEY, chain_id=1))))
    theirs, ours = made
    computed = [0]
    original = type(ours).get_intrinsic_gas

    def counting(self: Any) -> int:
        computed[0] += 1
        return int(original(self))

    monkeypatch.setattr(type(ours), "get_intrinsic_gas", counting)
    assert ours.intrinsic_gas == ours.intrinsic_gas == theirs.intrinsic_gas
    assert computed[0] == 1


DYNAMIC_FEE_BOUNDS: dict[str, list[Any]] = {
    "chain_id": [0, 1, UINT256, UINT256 + 1, -1, True],
    "nonce": [0, 2**64 - 2, 2**64 - 1, -1],
    "max_priority_fee_per_gas": [0, 1, UINT256, UINT256 + 1, -2],
    "max_fee_per_gas": [0, 9, UINT256, UINT256 + 1, False],
    "gas": [0, 50_000, UINT256 + 1],
    "to": [b"", b"\x11" * 20, b"\x11" * 19, "0x11"],
    "value": [0, UINT256, UINT256 + 1, -1],
    "data": [b"", b"\x01", bytearray(b"\x01")],
    "access_list": [
        (),
        ((b"\x22" * 20, (1, 2)),),
        ((b"\x22" * 20, ()), (b"\x33" * 20, (2**256 - 1,))),
        ((b"\x22" * 19, (1,)),),
        ((b"\x22" * 20,),),
        ((b"\x22" * 20, (True,)),),
        ((b"\x22" * 20, ("1",)),),
        ([b"\x22" * 20, [1]],),
        "not a list",
        ((b"\x22" * 20, 5),),
        (AccountAccesses(b"\x22" * 20, (1, 2)),),
        (AccountAccesses(b"\x22" * 19, (1,)),),
        (AccountAccesses(b"\x22" * 20, (True,)),),
    ],
    # The signature's ranges (not the signature itself: validate checks only these).
    "y_parity": [0, 1, 255, 256, -1, True],
    "r": [1, UINT256, UINT256 + 1, -1],
    "s": [1, UINT256, UINT256 + 1, -1, False],
}


def _dynamic_fee_validated_alike(stock: Any, kiln: Any, changes: dict[str, Any]) -> tuple[str, str]:
    def make(builder: Any) -> Any:
        signed = _dynamic_fee(builder)
        return type(signed)(signed.type_id, signed._inner.copy(**changes))

    return _judged_alike(stock, kiln, make)


def test_each_dynamic_fee_field_at_its_bounds_is_judged_as_pyevm_judges_it(
    builders: tuple[Any, Any],
) -> None:
    stock, kiln = builders
    accepted = 0
    for name, values in DYNAMIC_FEE_BOUNDS.items():
        for value in values:
            accepted += _dynamic_fee_validated_alike(stock, kiln, {name: value}) == ("", "")
    assert accepted > 10


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(v) for name, v in DYNAMIC_FEE_BOUNDS.items()}
    )
)
def test_dynamic_fee_fields_are_judged_as_pyevm_judges_them(
    builders: tuple[Any, Any], changes: dict[str, Any]
) -> None:
    stock, kiln = builders
    _dynamic_fee_validated_alike(stock, kiln, changes)


def test_a_plain_dynamic_fee_transaction_skips_the_field_checks(
    builders: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import eth.vm.forks.london.transactions as london

    _, kiln = builders
    checks = [0]
    original = london.validate_dynamic_fee_tx

    def counting(transaction: Any) -> None:
        checks[0] += 1
        original(transaction)

    monkeypatch.setattr(london, "validate_dynamic_fee_tx", counting)
    signed = _dynamic_fee(kiln)
    signed.validate()
    assert checks[0] == 0
    unplain = type(signed)(signed.type_id, signed._inner.copy(to=b"\x11" * 19))
    with pytest.raises(ValidationError, match="not a valid canonical address"):
        unplain.validate()
    assert checks[0] == 1


_TYPED_FIELDS: dict[str, Any] = {
    "chain_id": 1,
    "nonce": 3,
    "gas": 50_000,
    "to": b"\x11" * 20,
    "value": 5,
    "data": b"\x01",
    "access_list": ((b"\x22" * 20, (1, 2)),),
}
_FEES = {"max_priority_fee_per_gas": 1, "max_fee_per_gas": 9}
_AUTHORIZATION = {
    "chain_id": 1,
    "address": b"\x33" * 20,
    "nonce": 0,
    "y_parity": 1,
    "r": 5,
    "s": 6,
}
TYPED_MAKERS: list[tuple[str, dict[str, Any]]] = [
    ("access_list", {**_TYPED_FIELDS, "gas_price": 7}),
    ("dynamic_fee", {**_TYPED_FIELDS, **_FEES}),
    (
        "blob",
        {
            **_TYPED_FIELDS,
            **_FEES,
            "max_fee_per_blob_gas": 2,
            "blob_versioned_hashes": (b"\x01" + b"\x00" * 31,),
        },
    ),
    ("set_code", {**_TYPED_FIELDS, **_FEES, "authorization_list": (_AUTHORIZATION,)}),
]


@pytest.mark.parametrize(("kind", "fields"), TYPED_MAKERS, ids=[kind for kind, _ in TYPED_MAKERS])
def test_typed_transactions_signed_from_the_builder_recover_once(
    builders: tuple[Any, Any], kind: str, fields: dict[str, Any], recoveries: list[int]
) -> None:
    """Signed from its unsigned form, or made signed: evmkiln's wrapper of the class py-evm
    gives, the same transaction, one recovery between validation and the sender."""
    stock, kiln = builders
    if not hasattr(stock, f"new_unsigned_{kind}_transaction"):
        pytest.skip(f"no {kind} transactions in this fork")
    unsigned = getattr(kiln, f"new_unsigned_{kind}_transaction")(**fields)
    theirs = getattr(stock, f"new_unsigned_{kind}_transaction")(**fields).as_signed_transaction(KEY)
    ours = unsigned.as_signed_transaction(KEY)
    assert isinstance(ours, RecoveredOnceTyped) and isinstance(ours, type(theirs))
    assert ours.encode() == theirs.encode() and ours.hash == theirs.hash
    counts = []
    for transaction in (theirs, ours):
        recoveries[0] = 0
        transaction.validate()
        transaction.check_signature_validity()
        assert transaction.sender == SENDER
        counts.append(recoveries[0])
    # py-evm's own checks of an access-list payload recover once more, on both.
    assert counts[1] == counts[0] - 1
    inner = theirs._inner
    signature = {"y_parity": inner.y_parity, "r": inner.r, "s": inner.s}
    made = getattr(kiln, f"new_{kind}_transaction")(**fields, **signature)
    assert isinstance(made, RecoveredOnceTyped) and made.encode() == theirs.encode()
    assert made.sender == SENDER


def _signed_payloads(builder: Any) -> list[Any]:
    """One signed transaction of every class the builder signs, legacy ones with and
    without a chain id."""
    made = [
        builder.create_unsigned_transaction(
            nonce=3, gas_price=7, gas=50_000, to=b"\x11" * 20, value=5, data=b"\x01"
        ).as_signed_transaction(KEY, chain_id=chain_id)
        for chain_id in (None, 1, 2**40)
    ]
    for kind, fields in TYPED_MAKERS:
        unsigned = getattr(builder, f"new_unsigned_{kind}_transaction", None)
        if unsigned is not None:
            made.append(unsigned(**fields).as_signed_transaction(KEY)._inner)
    return made


@settings(max_examples=30, deadline=None)
@given(nonce=st.integers(0, 2**64 - 1), value=st.integers(0, 2**256 - 1), data=st.binary())
def test_signing_messages_are_pyevms(
    builders: tuple[Any, Any], nonce: int, value: int, data: bytes
) -> None:
    stock, _ = builders
    for payload in _signed_payloads(stock):
        changed = payload.copy(nonce=nonce, value=value, data=data)
        expected = changed.get_message_for_signing()
        assert message_for_signing(changed) == expected
        assert message_for_signing(payload) == payload.get_message_for_signing()


def test_a_class_signing_its_own_message_is_asked(builders: tuple[Any, Any]) -> None:
    stock, _ = builders
    payload = _signed_payloads(stock)[-1]

    class OwnMessage(type(payload)):  # type: ignore[misc]
        def get_message_for_signing(self) -> bytes:
            return b"own"

    own = OwnMessage(*(getattr(payload, name) for name in payload._meta.field_names))
    assert message_for_signing(own) == b"own"


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("bad_signature", [{"s": SECP256K1_N}, {"r": 2**256}, {"s": -1}, {}])
def test_a_bad_signature_is_refused_before_a_bad_field(
    builders: tuple[Any, Any], typed: bool, bad_signature: dict[str, int]
) -> None:
    """py-evm makes the signature before the message it signs: with both a field the
    message cannot encode and a signature eth-keys refuses, the signature's error comes."""
    stock, kiln = builders
    outcomes = []
    for builder in (stock, kiln):
        signed = (_dynamic_fee if typed else _legacy)(builder)
        inner = getattr(signed, "_inner", signed)
        changed = inner.copy(nonce=-1, **bad_signature)
        made = type(signed)(signed.type_id, changed) if typed else changed
        outcomes.append(_sender_outcome(made))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0]  # refused


def _builder_made(kiln: Any) -> list[Any]:
    """Every kind of transaction evmkiln's builder makes: legacy unsigned and signed, typed
    unsigned, signed from those, made signed, and decoded."""
    unsigned = kiln.create_unsigned_transaction(
        nonce=3, gas_price=7, gas=50_000, to=b"\x11" * 20, value=5, data=b"\x01"
    )
    made = [unsigned, unsigned.as_signed_transaction(KEY, chain_id=1), _dynamic_fee(kiln)]
    for kind, fields in TYPED_MAKERS:
        make_unsigned = getattr(kiln, f"new_unsigned_{kind}_transaction", None)
        if make_unsigned is None:
            continue
        typed_unsigned = make_unsigned(**fields)
        signed = typed_unsigned.as_signed_transaction(KEY)
        inner = signed._inner
        signature = {"y_parity": inner.y_parity, "r": inner.r, "s": inner.s}
        made += [
            typed_unsigned,
            signed,
            getattr(kiln, f"new_{kind}_transaction")(**fields, **signature),
        ]
    return made


def test_transactions_pickle_and_copy_as_their_own_class(builders: tuple[Any, Any]) -> None:
    _, kiln = builders
    for transaction in _builder_made(kiln):
        if hasattr(transaction, "y_parity") or hasattr(transaction, "v"):
            assert transaction.sender == SENDER  # a sender kept on it travels along
        for copied in (pickle.loads(pickle.dumps(transaction)), copy.copy(transaction)):
            assert type(copied) is type(transaction)
            assert copied == transaction
            assert _encoded(copied) == _encoded(transaction)
            if hasattr(transaction, "y_parity") or hasattr(transaction, "v"):
                assert copied.sender == SENDER


def test_a_tools_typed_wrapper_is_kept(builders: tuple[Any, Any]) -> None:
    """A builder whose typed wrapper is a tool's own class makes that class, overrides kept."""
    stock, kiln = builders
    tools_sender = b"\x99" * 20

    class ToolTyped(type(_dynamic_fee(stock))):  # type: ignore[misc]
        def get_sender(self) -> bytes:
            return tools_sender

    class ToolBuilder(kiln):  # type: ignore[misc,valid-type]
        typed_transaction = ToolTyped

    fields = {**_TYPED_FIELDS, "gas_price": 7}
    signed = stock.new_unsigned_access_list_transaction(**fields).as_signed_transaction(KEY)
    inner = signed._inner
    made = ToolBuilder.new_access_list_transaction(
        **fields, y_parity=inner.y_parity, r=inner.r, s=inner.s
    )
    assert type(made) is ToolTyped and made.sender == tools_sender


def test_a_pickled_transaction_loads_in_a_fresh_process() -> None:
    """The class is rebuilt from what the pickle names, before any VM class exists there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        kiln = make_vm_class("ir", "cancun", persistent_cache=False).get_transaction_builder()
    made = _builder_made(kiln)
    script = (
        "import pickle, sys\n"
        "for transaction in pickle.loads(sys.stdin.buffer.read()):\n"
        "    print(type(transaction).__module__, type(transaction).__name__, "
        "transaction.hash.hex() if hasattr(transaction, 'y_parity') else '')\n"
    )
    printed = unpickled_elsewhere(script, made)
    expected = [
        f"{type(t).__module__} {type(t).__name__} "
        + (t.hash.hex() if hasattr(t, "y_parity") else "")
        for t in made
    ]
    assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in expected]


def test_an_unsigned_transaction_passes_validation_once(
    builders: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gas estimate validates the same unsigned transaction on every run: a pass is
    kept on it (its fields never change); a refusal raises py-evm's error every time."""
    stock, kiln = builders
    legacy_fields = {"nonce": 3, "gas_price": 7, "gas": 50_000, "to": b"\x11" * 20, "value": 5}
    for make in (
        lambda builder, **changes: builder.new_unsigned_dynamic_fee_transaction(
            **{**_TYPED_FIELDS, **_FEES, **changes}
        ),
        lambda builder, **changes: builder.create_unsigned_transaction(
            **{**legacy_fields, "data": b"\x01", **changes}
        ),
    ):
        ours = make(kiln)
        base = type(ours).__mro__[1]
        checks = [0]
        original = base.validate

        def counting(self: Any, original: Any = original, checks: list[int] = checks) -> None:
            checks[0] += 1
            original(self)

        monkeypatch.setattr(base, "validate", counting)
        ours.validate()
        ours.validate()
        assert checks[0] == 1
        refused = [make(builder, to=b"\x11" * 19) for builder in (stock, kiln)]
        errors = []
        for transaction in refused * 2:
            with pytest.raises(ValidationError) as error:
                transaction.validate()
            errors.append(str(error.value))
        assert len(set(errors)) == 1
        monkeypatch.undo()


def test_a_kept_pass_is_not_kept_over_a_changed_field(builders: tuple[Any, Any]) -> None:
    """pyrlp's mutable context can set a field: the pass was for the old value."""
    stock, kiln = builders
    errors = []
    for builder in (stock, kiln):
        unsigned = builder.new_unsigned_dynamic_fee_transaction(**_TYPED_FIELDS, **_FEES)
        unsigned.validate()
        unsigned._in_mutable_context = True
        unsigned.to = b"\x11" * 19
        unsigned._in_mutable_context = False
        with pytest.raises(ValidationError) as error:
            unsigned.validate()
        errors.append(str(error.value))
    assert errors[0] == errors[1]
