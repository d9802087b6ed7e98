"""Write a bench fixture whose transaction calls one token contract again and again.

Every revmc bench fixture is a single call, so none of them shows what a
transaction of several frames on the same account costs (a router paying
through a token, then reading balances), which is where a frame's storage
table kept for the next frame helps.  This derives one from the ``weth``
fixture: a router contract, given WETH9 balance, makes ``--transfers`` calls
of ``transfer(0x01, 1000)`` and then reads ``balanceOf`` of itself and of
``0x01``, each a nested frame on WETH9's storage.

Usage (from the checkout)::

    uv run --frozen python scripts/router_fixture.py $EVMKILN_FIXTURES/bench/weth.json \\
        out/weth_router.json [--transfers 4]
    ./kiln bench out/weth_router.json -b llvm,wasm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eth_hash.auto import keccak

from evmkiln.fuzz.asm import asm

ROUTER = "dd" * 20
BALANCES_SLOT = 3
"""WETH9's ``balanceOf`` mapping."""
TRANSFER, BALANCE_OF = 0xA9059CBB, 0x70A08231


def router_code(token: int, router: int, transfers: int) -> bytes:
    """The router's code: the calls, then RETURN of the last balance read."""
    items: list[object] = []
    for _ in range(transfers):
        items += [TRANSFER << 224, 0, "MSTORE", 1, 4, "MSTORE", 1000, 36, "MSTORE"]
        items += [32, 100, 68, 0, 0, token, "GAS", "CALL", "POP"]
    for holder in (router, 1):
        items += [BALANCE_OF << 224, 0, "MSTORE", holder, 4, "MSTORE"]
        items += [32, 100, 36, 0, 0, token, "GAS", "CALL", "POP"]
    return asm(*items, 32, 100, "RETURN")  # type: ignore[arg-type]


def derive(weth_fixture: dict[str, object], transfers: int) -> dict[str, object]:
    (case,) = weth_fixture.values()
    assert isinstance(case, dict)
    transaction = case["transaction"]
    first = transaction[0] if isinstance(transaction, list) else transaction
    token = first["to"]
    pre = json.loads(json.dumps(case["pre"]))
    holder = bytes(12) + bytes.fromhex(ROUTER) + BALANCES_SLOT.to_bytes(32, "big")
    pre[token]["storage"]["0x" + keccak(holder).hex()] = hex(1000 * transfers)
    pre["0x" + ROUTER] = {
        "balance": "0x0",
        "code": "0x" + router_code(int(token, 16), int(ROUTER, 16), transfers).hex(),
        "nonce": "0x1",
        "storage": {},
    }
    routed = dict(first, data="0x", to="0x" + ROUTER)
    return {"env": case["env"], "pre": pre, "transaction": [routed]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weth", type=Path, help="the bench fixture weth.json")
    parser.add_argument("out", type=Path, help="where to write the derived fixture")
    parser.add_argument("--transfers", type=int, default=4)
    args = parser.parse_args()
    fixture = derive(json.loads(args.weth.read_text()), args.transfers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({args.out.stem: fixture}, indent=1) + "\n")


if __name__ == "__main__":
    main()
