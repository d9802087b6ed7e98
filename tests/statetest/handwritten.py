"""A tiny state test written by hand, with expectations computed independently.

The contract stores 0x2a in slot 0 (``PUSH1 0x2a PUSH1 0 SSTORE STOP``).  The
expected post-state is spelled out account by account from the gas schedule
(21000 intrinsic + 2 x PUSH1 + cold SSTORE 0 -> non-zero = 22100) and its root
is computed with py-evm's account database alone, not with the runner, so a
runner bug cannot make its own expectations agree with it.
"""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

SENDER_KEY = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = bytes.fromhex("1000000000000000000000000000000000000000")
LOOPER = bytes.fromhex("2000000000000000000000000000000000000000")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")

STORE_CODE = bytes.fromhex("602a60005500")
LOOP_CODE = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: spins until out of gas
SENDER_BALANCE = 10**18
GAS_PRICE = 10
BASE_FEE = 10  # tip 0: the coinbase earns nothing and, touched while empty, stays absent
STORE_GAS = 21000 + 3 + 3 + 22100
EMPTY_LOGS_HASH = keccak(bytes.fromhex("c0"))


def _hex(value: int | bytes) -> str:
    return hex(value) if isinstance(value, int) else "0x" + value.hex()


def state_root(accounts: dict[bytes, dict[str, Any]]) -> bytes:
    """Root of a state holding exactly ``accounts`` (balance/nonce/code/storage)."""
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB

    db = AccountDB(AtomicDB())
    for address, account in accounts.items():
        db.set_balance(address, account.get("balance", 0))
        db.set_nonce(address, account.get("nonce", 0))
        db.set_code(address, account.get("code", b""))
        for slot, value in account.get("storage", {}).items():
            db.set_storage(address, slot, value)
    db.persist()
    root: bytes = db.state_root
    return root


PRE = {
    SENDER: {"balance": SENDER_BALANCE, "nonce": 0},
    CONTRACT: {"code": STORE_CODE},
    LOOPER: {"code": LOOP_CODE},
}


def _post_after_store(value: int) -> dict[bytes, dict[str, Any]]:
    return {
        SENDER: {"balance": SENDER_BALANCE - STORE_GAS * GAS_PRICE - value, "nonce": 1},
        CONTRACT: {"code": STORE_CODE, "storage": {0: 0x2A}, "balance": value},
        LOOPER: {"code": LOOP_CODE},
    }


def _fixture_account(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "balance": _hex(account.get("balance", 0)),
        "nonce": _hex(account.get("nonce", 0)),
        "code": _hex(account.get("code", b"")),
        "storage": {_hex(k): _hex(v) for k, v in account.get("storage", {}).items()},
    }


def state_test(
    to: bytes = CONTRACT, gas_limits: tuple[int, ...] = (100_000, 20_000)
) -> dict[str, Any]:
    """A state-test document: a store with value 0 and 1, and a rejected low-gas case.

    Cases: ``d0g0v0`` and ``d0g0v1`` pass; ``d0g1v0`` has a gas limit below the
    intrinsic cost and expects the transaction to be rejected.
    """
    cases = [
        {
            "indexes": {"data": 0, "gas": 0, "value": 0},
            "hash": _hex(state_root(_post_after_store(0))),
            "logs": _hex(EMPTY_LOGS_HASH),
        },
        {
            "indexes": {"data": 0, "gas": 0, "value": 1},
            "hash": _hex(state_root(_post_after_store(1))),
            "logs": _hex(EMPTY_LOGS_HASH),
        },
        {
            "indexes": {"data": 0, "gas": 1, "value": 0},
            "hash": _hex(state_root(PRE)),
            "logs": _hex(EMPTY_LOGS_HASH),
            "expectException": "TransactionException.INTRINSIC_GAS_TOO_LOW",
        },
    ]
    return {
        "storeTest": {
            "_info": {"comment": "hand-written"},
            "env": {
                "currentCoinbase": _hex(COINBASE),
                "currentDifficulty": "0x020000",
                "currentRandom": "0x" + "00" * 31 + "02",
                "currentGasLimit": "0x05f5e100",
                "currentNumber": "0x01",
                "currentTimestamp": "0x03e8",
                "currentBaseFee": _hex(BASE_FEE),
                "currentExcessBlobGas": "0x00",
            },
            "pre": {_hex(address): _fixture_account(account) for address, account in PRE.items()},
            "transaction": {
                "data": ["0x"],
                "gasLimit": [_hex(g) for g in gas_limits],
                "gasPrice": _hex(GAS_PRICE),
                "nonce": "0x00",
                "secretKey": _hex(SENDER_KEY),
                "sender": _hex(SENDER),
                "to": _hex(to),
                "value": ["0x00", "0x01"],
            },
            "post": {"Cancun": cases},
        }
    }


def looping_test() -> dict[str, Any]:
    """One case that calls the spinning contract with a large gas limit (for timeouts)."""
    doc = state_test(to=LOOPER, gas_limits=(50_000_000, 20_000))
    test = doc.pop("storeTest")
    test["post"]["Cancun"] = test["post"]["Cancun"][:1]
    test["env"]["currentGasLimit"] = "0x0bebc200"
    return {"loopTest": test}
