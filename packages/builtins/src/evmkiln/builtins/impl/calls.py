"""CALL, CALLCODE, DELEGATECALL and STATICCALL.

The four share one sequence (py-evm's Cancun order, which decides which
charge a short frame fails on):

1. CALL with value in a static frame halts (WRITE_PROTECTION).
2. Memory expands for the input range, then for the output range.
3. The code account's EIP-2929 access is charged (cold 2600 / warm 100).
   From Prague on, if that account's code is an EIP-7702 delegation
   designation, the delegate's access is charged too, and the child runs the
   delegate's code (never as a precompile).
4. Extra gas: 9000 for a value transfer (CALL, CALLCODE), plus 25000 when
   CALL sends value to a dead account (EIP-161).  Halts if the frame cannot
   pay it.
5. EIP-150: the child gets ``min(requested, all but 1/64th of what is left
   after the extra gas)``; that and the extra gas are taken from the frame.
   A value transfer adds the 2300 stipend to the child, free for the caller.
6. Too deep (the child would be at depth 1025) or too poor to send the
   value: no child runs, the child's allowance comes back, the return data
   is cleared, the result is 0.
7. Otherwise the host runs the child; its output is copied to the output
   range (truncated to the range), unused gas comes back, the return-data
   buffer becomes whatever the child left, and the result is 1 on success.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.accounts import charge_account_access
from evmkiln.builtins.impl.addresses import word_to_address
from evmkiln.builtins.impl.gas import (
    CALL_DEPTH_LIMIT,
    CALL_STIPEND,
    CALL_VALUE,
    NEW_ACCOUNT,
    all_but_one_64th,
)
from evmkiln.builtins.memory import expand

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def _delegate(frame: Frame, code_address: bytes) -> bytes | None:
    """Follow an EIP-7702 delegation of ``code_address``, paying for the delegate's access."""
    delegate = frame.host.delegation_target(code_address)
    if delegate is not None:
        charge_account_access(frame, delegate)
    return delegate


def _run_call(
    frame: Frame,
    requested_gas: int,
    value: int,
    to: bytes,
    sender: bytes,
    code_address: bytes,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
    extra_gas: int,
    transfer_value: bool,
    is_static: bool,
    delegate: bytes | None,
) -> int:
    """Steps 4 to 7 of the module docstring; memory and access are already paid."""
    left = frame.gas
    if left < extra_gas:
        raise ExceptionalHalt(
            HaltKind.OUT_OF_GAS,
            f"call needs {extra_gas}, had {left}",
            needed=extra_gas,
            remaining=left,
        )
    child_gas = all_but_one_64th(left - extra_gas)
    if requested_gas < child_gas:
        child_gas = requested_gas
    frame.gas = left - child_gas - extra_gas
    if value and transfer_value:
        # DELEGATECALL passes its caller's value on but transfers nothing: no stipend.
        child_gas += CALL_STIPEND

    host = frame.host
    if frame.depth + 1 > CALL_DEPTH_LIMIT or (
        transfer_value and value and host.get_balance(frame.address) < value
    ):
        frame.returndata = b""
        frame.gas += child_gas
        return 0

    data = bytes(frame.memory[in_offset : in_offset + in_size]) if in_size else b""
    result = host.call(
        gas=child_gas,
        value=value,
        to=to,
        sender=sender,
        code_address=code_address if delegate is None else delegate,
        data=data,
        transfer_value=transfer_value,
        is_static=is_static,
        delegated=delegate is not None,
    )
    output = result.output
    if out_size and output:
        n = out_size if out_size < len(output) else len(output)
        frame.memory[out_offset : out_offset + n] = output[:n]
    frame.gas += result.gas_left
    frame.returndata = result.returndata
    return 1 if result.success else 0


def call(
    frame: Frame,
    gas: int,
    to_word: int,
    value: int,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
) -> int:
    if value and frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "CALL with value in a static frame")
    expand(frame, in_offset, in_size)
    expand(frame, out_offset, out_size)
    to = word_to_address(to_word)
    charge_account_access(frame, to)
    delegate = _delegate(frame, to)
    extra = 0
    if value:
        extra = CALL_VALUE
        if frame.host.account_is_empty(to):
            extra += NEW_ACCOUNT
    return _run_call(
        frame,
        gas,
        value,
        to,
        frame.address,
        to,
        in_offset,
        in_size,
        out_offset,
        out_size,
        extra,
        True,
        frame.is_static,
        delegate,
    )


def callcode(
    frame: Frame,
    gas: int,
    code_word: int,
    value: int,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
) -> int:
    """Run another account's code on this account's storage, sending value to itself."""
    expand(frame, in_offset, in_size)
    expand(frame, out_offset, out_size)
    code_address = word_to_address(code_word)
    charge_account_access(frame, code_address)
    delegate = _delegate(frame, code_address)
    return _run_call(
        frame,
        gas,
        value,
        frame.address,
        frame.address,
        code_address,
        in_offset,
        in_size,
        out_offset,
        out_size,
        CALL_VALUE if value else 0,
        True,
        frame.is_static,
        delegate,
    )


def delegatecall(
    frame: Frame,
    gas: int,
    code_word: int,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
) -> int:
    """Run another account's code as this frame: same storage, caller and value, no transfer."""
    expand(frame, in_offset, in_size)
    expand(frame, out_offset, out_size)
    code_address = word_to_address(code_word)
    charge_account_access(frame, code_address)
    delegate = _delegate(frame, code_address)
    return _run_call(
        frame,
        gas,
        frame.value,
        frame.address,
        frame.caller,
        code_address,
        in_offset,
        in_size,
        out_offset,
        out_size,
        0,
        False,
        frame.is_static,
        delegate,
    )


def staticcall(
    frame: Frame,
    gas: int,
    to_word: int,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
) -> int:
    expand(frame, in_offset, in_size)
    expand(frame, out_offset, out_size)
    to = word_to_address(to_word)
    charge_account_access(frame, to)
    delegate = _delegate(frame, to)
    return _run_call(
        frame,
        gas,
        0,
        to,
        frame.address,
        to,
        in_offset,
        in_size,
        out_offset,
        out_size,
        0,
        False,
        True,
        delegate,
    )
