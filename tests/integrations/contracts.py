"""Raw-bytecode contracts the integration tests deploy through each tool."""

from __future__ import annotations


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def initcode(runtime: bytes) -> bytes:
    """Initcode that deploys ``runtime`` (at most 255 bytes): CODECOPY then RETURN."""
    n = len(runtime)
    assert n < 256
    return _hex(f"60{n:02x} 600a 5f 39 60{n:02x} 5f f3") + runtime


# Every call adds one to slot 0 and returns the new value.
COUNTER = _hex("5f54 6001 01 80 5f55 5f52 6020 5ff3")

REASON = "nope"
_ERROR_DATA = (
    _hex("08c379a0")
    + (32).to_bytes(32, "big")
    + len(REASON).to_bytes(32, "big")
    + REASON.encode().ljust(32, b"\0")
)
# Reverts with Error("nope"): the ABI-encoded reason is appended to the code and copied out.
REVERTER = _hex(f"60{len(_ERROR_DATA):02x} 600a 5f 39 60{len(_ERROR_DATA):02x} 5f fd") + _ERROR_DATA

TOPIC0, TOPIC1 = 0xAA, 0xBB
# LOG2(calldata, topics 0xaa and 0xbb).
LOGGER = _hex("36 5f 5f 37 60bb 60aa 36 5f a2 00")

# The designated INVALID instruction.
INVALID = _hex("fe")
