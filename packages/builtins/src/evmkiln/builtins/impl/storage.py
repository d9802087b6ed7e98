"""Persistent (SLOAD/SSTORE) and transient (TLOAD/TSTORE) storage.

SSTORE is priced by EIP-2200's net metering with Berlin's EIP-2929 access
costs and London's EIP-3529 refunds; refunds accumulate in ``frame.refund``
and may go negative within a frame (a later write can take back an earlier
refund), as EIP-2200 intends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.gas import (
    COLD_SLOAD,
    SSTORE_CLEARS_REFUND,
    SSTORE_RESET,
    SSTORE_SENTRY,
    SSTORE_SET,
    WARM_STORAGE_READ,
    charge,
)

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def sload(frame: Frame, slot: int) -> int:
    return sload_with_original(frame, slot)[0]


def sload_with_original(frame: Frame, slot: int) -> tuple[int, int]:
    """SLOAD, also giving the slot's original value: ``(value, original)``.

    A native backend's storage table enters both, so that its SSTORE can
    price later writes to the slot without crossing.
    """
    cold, value, original = frame.host.load_slot(frame.address, slot)
    cost = COLD_SLOAD if cold else WARM_STORAGE_READ
    if cost > frame.gas:
        charge(frame, cost)  # halts, worded as every charge
    frame.gas -= cost
    return value, original


def _sstore_price(original: int, current: int, new: int) -> tuple[int, int]:
    """EIP-2200 (as amended by EIP-2929/3529): ``(gas, refund)`` of a warm SSTORE."""
    if current == new:
        return WARM_STORAGE_READ, 0
    if original == current:
        if original == 0:
            return SSTORE_SET, 0
        return SSTORE_RESET, SSTORE_CLEARS_REFUND if new == 0 else 0
    # The slot is already dirty in this transaction: only the access is paid,
    # and earlier refunds are adjusted to what the net change deserves.
    refund = 0
    if original != 0:
        if current == 0:
            refund -= SSTORE_CLEARS_REFUND
        if new == 0:
            refund += SSTORE_CLEARS_REFUND
    if original == new:
        refund += (SSTORE_SET if original == 0 else SSTORE_RESET) - WARM_STORAGE_READ
    return WARM_STORAGE_READ, refund


def sstore(frame: Frame, slot: int, value: int) -> None:
    """SSTORE (:func:`sstore_with_original`, its original value dropped)."""
    sstore_with_original(frame, slot, value)


def sstore_with_original(frame: Frame, slot: int, value: int) -> int:
    """SSTORE, giving the slot's original value, which it read to price the write.

    Static frames halt first; then EIP-2200's sentry: with 2300 gas or less,
    halt.  A native backend's storage table enters the slot with the original
    value, so that its SSTORE can price later writes to the slot without
    crossing.
    """
    if frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "SSTORE in a static frame")
    if frame.gas <= SSTORE_SENTRY:
        raise ExceptionalHalt(
            HaltKind.OUT_OF_GAS, "SSTORE needs more than 2300 gas", sentry=frame.gas
        )
    host = frame.host
    address = frame.address
    # py-evm's order: the values, the write, and only then the access (a tool's state
    # watching its warm set sees the same calls).
    current = host.get_storage(address, slot)
    original = host.get_original_storage(address, slot)
    cost, refund = _sstore_price(original, current, value)
    if cost > frame.gas:
        # py-evm's wording, formatted only on the way out.
        charge(
            frame,
            cost,
            f"SSTORE: 0x{address.hex()}[{slot}] -> {value} "
            f"(current: {current} / original: {original})",
        )
    frame.gas -= cost
    frame.refund += refund
    host.set_storage(address, slot, value)
    if host.access_storage(address, slot):
        charge(frame, COLD_SLOAD)
    return original


def tload(frame: Frame, slot: int) -> int:
    return frame.host.get_transient(frame.address, slot)


def tstore(frame: Frame, slot: int, value: int) -> None:
    if frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "TSTORE in a static frame")
    frame.host.set_transient(frame.address, slot, value)
