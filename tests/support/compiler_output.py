"""Bytecode produced by real compilers that once broke a backend."""

from __future__ import annotations

VYPER_EXPERIMENTAL = bytes.fromhex(
    "600260035f3560e01c90810660011b6100ef01601e929192395f51565b505f5ffd5b6362cb39f918"
    "6100eb573660241134176100eb5760043580600f0b81186100eb5780600210815f13176100eb5754"
    "60605260206060f35b80635378fc311861009657503660441134176100eb5760043580600f0b8118"
    "6100eb576024358060a01c6100eb5781600210825f13176100eb579055005b63e72b2723186100eb"
    "57346100eb575f5f5b816003186100be5750505f60805260805b602090f35b815460605260010180"
    "600f0b81186100eb5790816002186100e257505060606100b9565b600101906100a8565b5f80fd00"
    "580021001c"
)
"""245 bytes from Vyper's ``--experimental-codegen``: a getter, a setter of a
fixed-size array slot and a loop over the array.  LLVM's NewGVN failed an
internal assertion on it (SIGABRT) at the default pipeline."""

VYPER_EXPERIMENTAL_CALLS = [
    bytes.fromhex("5378fc31") + (1).to_bytes(32, "big") + (0xABCD).to_bytes(32, "big"),
    bytes.fromhex("62cb39f9") + (1).to_bytes(32, "big"),
    bytes.fromhex("e72b2723"),
    bytes.fromhex("62cb39f9") + (7).to_bytes(32, "big"),  # index out of range: reverts
    bytes.fromhex("deadbeef"),  # no such function: reverts
]
"""Calls that reach each of its functions, a failed bounds check and the fallback."""
