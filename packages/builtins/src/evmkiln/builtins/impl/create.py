"""CREATE and CREATE2.

The static 32000 is charged by the IR.  Here, in py-evm's Cancun order:

1. A static frame halts (WRITE_PROTECTION).
2. EIP-3860's 2 gas per initcode word, plus CREATE2's 6 per word for hashing
   the initcode, then memory expansion for the initcode.
3. Too poor to endow, too deep, or a creator nonce at 2**64-1: no child, the
   return data is cleared, the result is 0 (nothing else is charged).
4. All but 1/64th of the gas left goes to the child.  The creator's nonce
   is bumped, the new address derived and warmed (EIP-2929).
5. A collision (code or nonce already at the address, or under EIP-7610
   storage: the host answers by the fork's rule) fails with 0 and keeps the
   child's gas: it is burnt.
6. Initcode longer than EIP-3860's limit halts the *creating* frame.
7. The host runs the initcode; unused gas comes back, the return data is the
   child's revert output (empty on success), the result is the new address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.impl.addresses import create2_address, create_address
from evmkiln.builtins.impl.gas import (
    CALL_DEPTH_LIMIT,
    INITCODE_WORD,
    KECCAK_WORD,
    MAX_INITCODE_SIZE,
    MAX_NONCE,
    all_but_one_64th,
    charge,
)
from evmkiln.builtins.memory import expand

if TYPE_CHECKING:
    from evmkiln.builtins.frame import Frame


def _create(frame: Frame, value: int, offset: int, size: int, salt: int | None) -> int:
    if frame.is_static:
        raise ExceptionalHalt(HaltKind.WRITE_PROTECTION, "contract creation in a static frame")
    words = (size + 31) >> 5
    charge(frame, (INITCODE_WORD + (0 if salt is None else KECCAK_WORD)) * words)
    expand(frame, offset, size)

    host = frame.host
    creator = frame.address
    nonce = host.get_nonce(creator)
    if (
        host.get_balance(creator) < value
        or frame.depth + 1 > CALL_DEPTH_LIMIT
        or nonce + 1 > MAX_NONCE
    ):
        frame.returndata = b""
        return 0

    initcode = bytes(frame.memory[offset : offset + size]) if size else b""
    child_gas = all_but_one_64th(frame.gas)
    frame.gas -= child_gas
    if salt is None:
        address = create_address(creator, nonce)
    else:
        address = create2_address(creator, salt, initcode)
    host.increment_nonce(creator)
    host.access_account(address)
    if host.has_code_or_nonce(address):
        frame.returndata = b""
        return 0
    if len(initcode) > MAX_INITCODE_SIZE:
        raise ExceptionalHalt(
            HaltKind.OUT_OF_GAS,
            f"initcode of {len(initcode)} bytes exceeds EIP-3860's limit",
            initcode_size=len(initcode),
        )

    result = host.create(
        gas=child_gas,
        value=value,
        sender=creator,
        address=address,
        initcode=initcode,
        salted=salt is not None,
    )
    frame.gas += result.gas_left
    frame.returndata = result.returndata
    return int.from_bytes(address, "big") if result.success else 0


def create(frame: Frame, value: int, offset: int, size: int) -> int:
    return _create(frame, value, offset, size, None)


def create2(frame: Frame, value: int, offset: int, size: int, salt: int) -> int:
    return _create(frame, value, offset, size, salt)
