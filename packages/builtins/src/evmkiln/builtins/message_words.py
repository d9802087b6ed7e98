"""A message's value, caller and address as the little-endian words native code reads.

Both native backends give generated code CALLVALUE, CALLER and ADDRESS as
three adjacent 256-bit words of four little-endian 64-bit limbs (the LLVM
context's ``value``/``caller``/``address`` fields, the wasm header's
``MSG_*`` words), written for every frame.
"""

from __future__ import annotations

_ZERO_WORD = bytes(32)
_ADDRESS_PAD = bytes(12)


def message_words(value: int, caller: bytes, address: bytes) -> bytes:
    """``value``, ``caller`` and ``address`` as the three little-endian words.

    A 20-byte address is its bytes reversed and zero-padded, which is several
    times cheaper than a round trip through ``int``; the value is usually zero.
    """
    if len(caller) != 20 or len(address) != 20:
        return (
            value.to_bytes(32, "little")
            + int.from_bytes(caller, "big").to_bytes(32, "little")
            + int.from_bytes(address, "big").to_bytes(32, "little")
        )
    return b"".join(
        (
            value.to_bytes(32, "little") if value else _ZERO_WORD,
            caller[::-1],
            _ADDRESS_PAD,
            address[::-1],
            _ADDRESS_PAD,
        )
    )
