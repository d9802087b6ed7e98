"""One unsigned transaction of every type a VM class's builder makes, for envelope tests."""

from __future__ import annotations

from typing import Any

BLOB_HASHES = [b"\x01" + b"\x00" * 31, b"\x01" + b"\x07" * 31]


def unsigned_of_every_type(
    vm_class: Any,
    to: bytes,
    *,
    nonce: int = 3,
    priority_fee: int = 2,
    max_fee: int = 9,
    chain_id: int = 1,
) -> dict[str, Any]:
    """Legacy (priced at ``max_fee``), access list, dynamic fee, blob, and set code
    where the fork has it: value 5, one byte of data, an access list naming ``to``."""
    builder = vm_class.get_transaction_builder()
    common: dict[str, Any] = {"nonce": nonce, "gas": 100_000, "to": to, "value": 5, "data": b"\x01"}
    fees = {"max_priority_fee_per_gas": priority_fee, "max_fee_per_gas": max_fee}
    typed: dict[str, Any] = {"chain_id": chain_id, "access_list": [(to, [1, 2])], **common}
    unsigned: dict[str, Any] = {
        "legacy": builder.create_unsigned_transaction(gas_price=max_fee, **common),
        "access list": builder.new_unsigned_access_list_transaction(gas_price=max_fee, **typed),
        "dynamic fee": builder.new_unsigned_dynamic_fee_transaction(**fees, **typed),
        "blob": builder.new_unsigned_blob_transaction(
            max_fee_per_blob_gas=7, blob_versioned_hashes=BLOB_HASHES, **fees, **typed
        ),
    }
    if hasattr(builder, "new_unsigned_set_code_transaction"):
        unsigned["set code"] = builder.new_unsigned_set_code_transaction(
            authorization_list=[], **fees, **typed
        )
    return unsigned
