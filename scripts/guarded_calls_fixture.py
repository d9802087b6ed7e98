"""Write a bench fixture whose transaction calls a transient-guarded contract again and again.

A reentrancy guard kept in transient storage (EIP-1153) reads and writes the
same transient slot in every call: ``TLOAD`` of the lock, revert if it is
set, ``TSTORE`` of 1, the work, ``TSTORE`` of 0.  Calls after the first on
the same account find the lock's slot in the storage table their account's
last frame kept, if the host's stamp covers transient storage; this fixture
counts what that saves.  The guarded contract counts a storage slot up; a
caller contract calls it ``--calls`` times.

Usage (from the checkout)::

    uv run --frozen python scripts/guarded_calls_fixture.py out/guarded_calls.json [--calls 8]
    ./kiln bench out/guarded_calls.json -b llvm,wasm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evmkiln.fuzz.asm import Label, Ref, asm

GUARDED = "cc" * 20
CALLER = "dd" * 20
SENDER = "11" * 20
COUNTER_SLOT = 1


def guarded_code() -> bytes:
    """TLOAD(0) set: revert; TSTORE(0, 1); SSTORE(1, SLOAD(1) + 1); TSTORE(0, 0); STOP."""
    return asm(
        0, "TLOAD", Ref("locked"), "JUMPI",
        1, 0, "TSTORE",
        COUNTER_SLOT, "SLOAD", 1, "ADD", COUNTER_SLOT, "SSTORE",
        0, 0, "TSTORE",
        "STOP",
        Label("locked"), 0, 0, "REVERT",
    )  # fmt: skip


def caller_code(calls: int) -> bytes:
    """``calls`` CALLs of the guarded contract with no data and no value, then STOP."""
    items: list[object] = []
    for _ in range(calls):
        items += [0, 0, 0, 0, 0, int(GUARDED, 16), "GAS", "CALL", "POP"]
    return asm(*items, "STOP")  # type: ignore[arg-type]


def fixture(calls: int) -> dict[str, object]:
    def account(code: bytes, storage: dict[str, str]) -> dict[str, object]:
        return {"balance": "0x0", "code": "0x" + code.hex(), "nonce": "0x1", "storage": storage}

    return {
        "env": {
            "currentBaseFee": "0x0",
            "currentCoinbase": "0x" + "00" * 20,
            "currentGasLimit": "0x7fffffffffffffff",
            "currentNumber": "0x1",
            "currentTimestamp": "0x1",
        },
        "pre": {
            "0x" + SENDER: {"balance": hex(10**30), "code": "0x", "nonce": "0x0", "storage": {}},
            "0x" + GUARDED: account(guarded_code(), {hex(COUNTER_SLOT): "0x05"}),
            "0x" + CALLER: account(caller_code(calls), {}),
        },
        "transaction": [
            {
                "data": "0x",
                "gasLimit": "0x7fffffffffffffff",
                "gasPrice": "0x0",
                "nonce": "0x0",
                "sender": "0x" + SENDER,
                "to": "0x" + CALLER,
                "value": "0x0",
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to write the fixture")
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({args.out.stem: fixture(args.calls)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
