"""Building py-evm transactions from fixture fields: type choice, signing, sender spoofing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from handwritten import SENDER, SENDER_KEY

from evmkiln.fixtures import AccessListEntry, TransactionSpec, load_state_test_file
from evmkiln.statetest import resolve_vm_class
from evmkiln.statetest.transactions import (
    TransactionBuildError,
    build_transaction,
    transaction_type,
)

TO = bytes.fromhex("1000000000000000000000000000000000000000")
BASE = TransactionSpec(
    nonce=0,
    gas_limit=100_000,
    to=TO,
    value=1,
    data=b"\x01",
    gas_price=10,
    max_fee_per_gas=None,
    max_priority_fee_per_gas=None,
    access_list=None,
    max_fee_per_blob_gas=None,
    blob_versioned_hashes=None,
    secret_key=SENDER_KEY,
    sender=None,
)
ACCESS = (AccessListEntry(address=TO, storageKeys=[b"\x00" * 31 + b"\x01"]),)
DYNAMIC = dataclasses.replace(
    BASE, gas_price=None, max_fee_per_gas=20, max_priority_fee_per_gas=1, access_list=ACCESS
)
BLOB = dataclasses.replace(
    DYNAMIC, max_fee_per_blob_gas=1, blob_versioned_hashes=(b"\x01" + b"\x00" * 31,)
)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (BASE, 0),
        (dataclasses.replace(BASE, access_list=()), 1),
        (dataclasses.replace(BASE, access_list=ACCESS), 1),
        (DYNAMIC, 2),
        (dataclasses.replace(DYNAMIC, access_list=None), 2),
        (BLOB, 3),
    ],
)
def test_type_follows_fee_fields_and_signature_gives_sender(
    spec: TransactionSpec, kind: int
) -> None:
    assert transaction_type(spec) == kind
    tx = build_transaction(resolve_vm_class("pyevm"), spec)
    assert (tx.type_id or 0) == kind
    assert tx.sender == SENDER
    assert (tx.nonce, tx.gas, tx.to, tx.value, tx.data) == (0, 100_000, TO, 1, b"\x01")


def test_typed_transactions_use_the_fork_classes() -> None:
    from eth.vm.forks.cancun.transactions import CancunTypedTransaction

    for spec in (DYNAMIC, BLOB):
        assert isinstance(
            build_transaction(resolve_vm_class("pyevm"), spec), CancunTypedTransaction
        )


def test_sender_without_key_is_spoofed() -> None:
    spoofed = dataclasses.replace(BASE, secret_key=None, sender=b"\x11" * 20)
    tx = build_transaction(resolve_vm_class("pyevm"), spoofed)
    assert tx.sender == b"\x11" * 20
    assert tx.get_sender() == b"\x11" * 20


def test_unusable_fields_are_a_build_error() -> None:
    invalid_key = dataclasses.replace(BASE, secret_key=b"\x00" * 32)
    with pytest.raises(TransactionBuildError):
        build_transaction(resolve_vm_class("pyevm"), invalid_key)


@pytest.mark.fixtures
def test_built_transactions_agree_with_fixture_txbytes(fixtures_root: Path) -> None:
    """Cross-check type choice and fields against the filler's own encoding (``txbytes``).

    Signatures may differ (a filler may sign legacy transactions with EIP-155), so
    the comparison is on the decoded fields and the recovered sender.
    """
    vm_class = resolve_vm_class("pyevm")
    builder = vm_class.get_transaction_builder()
    suite = fixtures_root / "statetests" / "GeneralStateTests"
    checked = 0
    for path in sorted(suite.rglob("*.json"))[::40]:
        for test in load_state_test_file(path).root.values():
            for case in test.post.get("Cancun", []):
                if case.txbytes is None or case.expect_exception is not None:
                    continue
                ours = build_transaction(vm_class, test.transaction_for(case))
                theirs = builder.decode(case.txbytes)
                fields = ("type_id", "nonce", "gas", "to", "value", "data", "sender")
                for field in fields:
                    assert getattr(ours, field) == getattr(theirs, field), (path, field)
                assert list(ours.access_list) == list(theirs.access_list), path
                checked += 1
    assert checked > 100
