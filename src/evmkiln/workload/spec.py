"""What a workload is, as data: the genesis accounts, the contracts, and the transactions.

The parent process builds a :class:`WorkloadSpec` once (reading fixtures is
slow and none of any configuration's business) and writes it as JSON; every
configuration's fresh process reads the same file, so all of them run the
same stream, and only what a configuration changes is timed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic_core

SPEC_SCHEMA = "evmkiln-workload-spec/1"

Sender = Literal["keyed", "spoofed"]
"""``keyed``: the state tests' sender, signed with its key.  ``spoofed``: the bench
fixtures' sender, whose key nobody holds (py-evm's ``SpoofTransaction``)."""

STATE_TEST_KEY = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
"""The secret key of every ethereum/tests state test's sender (0xa94f5374...)."""
STATE_TEST_SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
BENCH_SENDER = b"\x11" * 20
"""The sender of the bench fixtures; their contracts' storage holds its balances."""


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """One account of the genesis state."""

    address: bytes
    code: bytes
    balance: int = 0
    nonce: int = 0
    storage: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One way of calling a contract: a transaction's fields, less its nonce."""

    sender: Sender
    to: bytes | None
    """``None``: a contract creation (``data`` is initcode)."""
    data: bytes
    value: int
    gas: int


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract of the workload: where it comes from and how it is called.

    ``accounts`` are the code-bearing accounts it needs in the genesis state
    (itself and the contracts it calls); ``calls`` are its fixture's
    transactions, one of which each transaction to it picks.
    """

    name: str
    source: Literal["bench", "statetest"]
    accounts: tuple[GenesisAccount, ...]
    calls: tuple[Call, ...]

    @property
    def code_size(self) -> int:
        """Bytes of code of the called account (of the initcode for a creation)."""
        call = self.calls[0]
        if call.to is None:
            return len(call.data)
        for account in self.accounts:
            if account.address == call.to:
                return len(account.code)
        return 0


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """The whole stream: contracts by rank (hottest first), then transactions in blocks.

    ``transactions`` are ``(contract index, call index)`` pairs in stream
    order; ``blocks`` the number of transactions in each block, in order.
    """

    contracts: tuple[Contract, ...]
    transactions: tuple[tuple[int, int], ...]
    blocks: tuple[int, ...]
    seed: int
    zipf: float
    block_gas_limit: int
    gas_price: int
    description: Mapping[str, Any] = field(default_factory=dict)

    def genesis(self) -> dict[bytes, GenesisAccount]:
        """Every contract's accounts, by address (selection guarantees they agree)."""
        accounts: dict[bytes, GenesisAccount] = {}
        for contract in self.contracts:
            for account in contract.accounts:
                accounts.setdefault(account.address, account)
        return accounts

    def calls_per_contract(self) -> list[int]:
        """How many transactions of the stream go to each contract, by rank."""
        counts = [0] * len(self.contracts)
        for index, _ in self.transactions:
            counts[index] += 1
        return counts

    # -- JSON ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SPEC_SCHEMA,
            "seed": self.seed,
            "zipf": self.zipf,
            "block_gas_limit": self.block_gas_limit,
            "gas_price": self.gas_price,
            "description": dict(self.description),
            "blocks": list(self.blocks),
            "transactions": [list(pair) for pair in self.transactions],
            "contracts": [_contract_json(c) for c in self.contracts],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WorkloadSpec:
        if raw.get("schema") != SPEC_SCHEMA:
            raise ValueError(f"not a workload spec ({SPEC_SCHEMA}): {raw.get('schema')!r}")
        return cls(
            contracts=tuple(_contract_from_json(c) for c in raw["contracts"]),
            transactions=tuple((int(a), int(b)) for a, b in raw["transactions"]),
            blocks=tuple(int(n) for n in raw["blocks"]),
            seed=int(raw["seed"]),
            zipf=float(raw["zipf"]),
            block_gas_limit=int(raw["block_gas_limit"]),
            gas_price=int(raw["gas_price"]),
            description=dict(raw.get("description", {})),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def read(cls, path: Path) -> WorkloadSpec:
        return cls.from_json(pydantic_core.from_json(path.read_bytes()))  # depth-limited


def _contract_json(contract: Contract) -> dict[str, Any]:
    return {
        "name": contract.name,
        "source": contract.source,
        "accounts": [
            {
                "address": a.address.hex(),
                "code": a.code.hex(),
                "balance": hex(a.balance),
                "nonce": a.nonce,
                "storage": {hex(k): hex(v) for k, v in a.storage.items()},
            }
            for a in contract.accounts
        ],
        "calls": [
            {
                "sender": c.sender,
                "to": None if c.to is None else c.to.hex(),
                "data": c.data.hex(),
                "value": hex(c.value),
                "gas": c.gas,
            }
            for c in contract.calls
        ],
    }


def _contract_from_json(raw: Mapping[str, Any]) -> Contract:
    source = raw["source"]
    if source not in ("bench", "statetest"):
        raise ValueError(f"unknown contract source {source!r}")
    calls = []
    for c in raw["calls"]:
        sender = c["sender"]
        if sender not in ("keyed", "spoofed"):
            raise ValueError(f"unknown sender {sender!r}")
        calls.append(
            Call(
                sender=sender,
                to=None if c["to"] is None else bytes.fromhex(c["to"]),
                data=bytes.fromhex(c["data"]),
                value=int(c["value"], 16),
                gas=int(c["gas"]),
            )
        )
    return Contract(
        name=str(raw["name"]),
        source=source,
        accounts=tuple(
            GenesisAccount(
                address=bytes.fromhex(a["address"]),
                code=bytes.fromhex(a["code"]),
                balance=int(a["balance"], 16),
                nonce=int(a["nonce"]),
                storage={int(k, 16): int(v, 16) for k, v in a["storage"].items()},
            )
            for a in raw["accounts"]
        ),
        calls=tuple(calls),
    )
