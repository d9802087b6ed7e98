"""Turning a resolved fixture transaction into a py-evm signed transaction.

The type is chosen from the fields present (see :class:`TransactionSpec`) and
the transaction is built with the VM's own transaction builder, so a Cancun VM
gets Cancun transaction classes and a set-code transaction (type 4) exists only
from Prague on. The chain id is the fixture's (``config.chainid``). Fixtures
that give a ``secretKey`` are signed with it; bench fixtures give only a
``sender``, and are signed with a throwaway key and then presented with the
fixture's sender (py-evm's spoofing wrapper), which is how py-evm itself runs
calls from accounts whose key it does not hold.
"""

from __future__ import annotations

from typing import Any

from evmkiln.fixtures.transaction import TransactionSpec

CHAIN_ID = 1
"""Chain id of ethereum/tests state tests (mainnet), and the default of EEST ones."""

_THROWAWAY_KEY = b"\x01" * 32

_TYPE_ACCESS_LIST = 1
_TYPE_DYNAMIC_FEE = 2
_TYPE_BLOB = 3
_TYPE_SET_CODE = 4


class TransactionBuildError(Exception):
    """py-evm refused to build or sign the transaction (the fixture's transaction is invalid)."""


def transaction_type(spec: TransactionSpec) -> int:
    """EIP-2718 type of the transaction the fields describe (0 for legacy)."""
    if spec.authorization_list is not None:
        return _TYPE_SET_CODE
    if spec.blob_versioned_hashes is not None or spec.max_fee_per_blob_gas is not None:
        return _TYPE_BLOB
    if spec.max_fee_per_gas is not None:
        return _TYPE_DYNAMIC_FEE
    if spec.access_list is not None:
        return _TYPE_ACCESS_LIST
    return 0


def _py_evm_access_list(spec: TransactionSpec) -> list[tuple[bytes, list[int]]]:
    return [
        (entry.address, [int.from_bytes(key, "big") for key in entry.storage_keys])
        for entry in spec.access_list or ()
    ]


def _dynamic_fee_fields(spec: TransactionSpec, to: bytes) -> dict[str, Any]:
    """The fields set-code and blob transactions share with dynamic-fee ones (absent fees: 0)."""
    return {
        "chain_id": spec.chain_id,
        "nonce": spec.nonce,
        "max_priority_fee_per_gas": spec.max_priority_fee_per_gas or 0,
        "max_fee_per_gas": spec.max_fee_per_gas if spec.max_fee_per_gas is not None else 0,
        "gas": spec.gas_limit,
        "to": to,
        "value": spec.value,
        "data": spec.data,
        "access_list": _py_evm_access_list(spec),
    }


def _unsigned(builder: Any, spec: TransactionSpec) -> Any:
    to = spec.to if spec.to is not None else b""
    kind = transaction_type(spec)
    if kind == 0:
        return builder.create_unsigned_transaction(
            nonce=spec.nonce,
            gas_price=spec.gas_price,
            gas=spec.gas_limit,
            to=to,
            value=spec.value,
            data=spec.data,
        )
    if kind == _TYPE_ACCESS_LIST:
        return builder.new_unsigned_access_list_transaction(
            chain_id=spec.chain_id,
            nonce=spec.nonce,
            gas_price=spec.gas_price,
            gas=spec.gas_limit,
            to=to,
            value=spec.value,
            data=spec.data,
            access_list=_py_evm_access_list(spec),
        )
    if kind == _TYPE_DYNAMIC_FEE:
        return builder.new_unsigned_dynamic_fee_transaction(
            chain_id=spec.chain_id,
            nonce=spec.nonce,
            max_priority_fee_per_gas=spec.max_priority_fee_per_gas,
            max_fee_per_gas=spec.max_fee_per_gas,
            gas=spec.gas_limit,
            to=to,
            value=spec.value,
            data=spec.data,
            access_list=_py_evm_access_list(spec),
        )
    if kind == _TYPE_SET_CODE:
        if not hasattr(builder, "new_unsigned_set_code_transaction"):
            raise TransactionBuildError("set-code transactions are not supported by this fork")
        return builder.new_unsigned_set_code_transaction(
            **_dynamic_fee_fields(spec, to),
            authorization_list=[
                {
                    "chain_id": auth.chain_id,
                    "address": auth.address,
                    "nonce": auth.nonce,
                    "y_parity": auth.parity,
                    "r": auth.r,
                    "s": auth.s,
                }
                for auth in spec.authorization_list or ()
            ],
        )
    if not hasattr(builder, "new_unsigned_blob_transaction"):
        raise TransactionBuildError("blob transactions are not supported by this fork")
    return builder.new_unsigned_blob_transaction(
        **_dynamic_fee_fields(spec, to),
        max_fee_per_blob_gas=spec.max_fee_per_blob_gas or 0,
        blob_versioned_hashes=list(spec.blob_versioned_hashes or ()),
    )


def build_transaction(vm_class: Any, spec: TransactionSpec) -> Any:
    """A signed py-evm transaction for ``spec``, of the classes ``vm_class`` uses.

    Raises :class:`TransactionBuildError` when py-evm rejects the fields (for
    instance a value that does not fit its RLP encoding): a state test expecting
    an exception counts that as the rejection.
    """
    from eth_keys.datatypes import PrivateKey

    builder = vm_class.get_transaction_builder()
    try:
        unsigned = _unsigned(builder, spec)
        key = PrivateKey(spec.secret_key or _THROWAWAY_KEY)
        signed = unsigned.as_signed_transaction(key)
        if transaction_type(spec) != 0:
            # Re-decode so that typed transactions get this fork's wrapper class.
            signed = builder.decode(signed.encode())
    except Exception as exc:  # py-evm and rlp raise many unrelated types for bad fields
        raise TransactionBuildError(f"{type(exc).__name__}: {exc}") from exc
    if spec.secret_key is None and spec.sender is not None:
        from eth.vm.spoof import SpoofTransaction

        sender = spec.sender
        return SpoofTransaction(signed, sender=sender, get_sender=lambda: sender)
    return signed
