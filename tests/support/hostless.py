"""A frame for programs that never cross into the host: backends run directly, no py-evm."""

from __future__ import annotations

from evmkiln.builtins.frame import Frame


def hostless_frame(code: bytes, gas: int = 100_000, calldata: bytes = b"") -> Frame:
    """A top-level, non-static frame with no host (a crossing would fail loudly)."""
    return Frame(
        host=None,  # type: ignore[arg-type]  # the program never crosses into the host
        gas=gas,
        code=code,
        calldata=calldata,
        address=b"\xcc" * 20,
        caller=b"\x11" * 20,
        value=0,
        is_static=False,
        depth=0,
    )
