"""Parsing of fixture files: hex fields, schema checks, and errors that name the file."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from handwritten import CONTRACT, SENDER, state_test

from evmkiln.fixtures import FixtureError, load_bench_file, load_state_test_file
from evmkiln.fixtures.hexfields import parse_hex_bytes, parse_hex_int

WriteJson = Callable[[str, Any], Path]
CONTRACT_HEX = "0x" + CONTRACT.hex()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0x", 0), ("0x00", 0), ("0x0a", 10), ("0X1F", 31), ("42", 42), (7, 7)],
)
def test_hex_int_accepts_hex_decimal_and_ints(text: object, expected: int) -> None:
    assert parse_hex_int(text) == expected


@pytest.mark.parametrize("text", ["0xzz", "ten", -1, True, None, 1.5])
def test_hex_int_rejects_garbage(text: object) -> None:
    with pytest.raises(ValueError):
        parse_hex_int(text)


def test_hex_bytes() -> None:
    assert parse_hex_bytes("0x") == b""
    assert parse_hex_bytes("0x00ff") == b"\x00\xff"
    for bad in ["00ff", "0x0", "0xgg", 5]:
        with pytest.raises(ValueError):
            parse_hex_bytes(bad)


def test_state_test_file_parses_to_ints_and_bytes(write_json: WriteJson) -> None:
    parsed = load_state_test_file(write_json("ok.json", state_test()))
    test = parsed.root["storeTest"]
    assert test.env.base_fee == 10
    assert test.env.random == (2).to_bytes(32, "big")
    assert test.pre[CONTRACT].code == bytes.fromhex("602a60005500")
    assert test.transaction.sender == SENDER
    cases = test.post["Cancun"]
    assert [c.indexes.label for c in cases] == ["d0g0v0", "d0g0v1", "d0g1v0"]
    assert cases[2].expect_exception is not None
    spec = test.transaction_for(cases[1])
    assert (spec.gas_limit, spec.value, spec.to) == (100_000, 1, CONTRACT)


def test_env_defaults_follow_the_reference_runner(write_json: WriteJson) -> None:
    doc = state_test()
    env = doc["storeTest"]["env"]
    del env["currentBaseFee"], env["currentExcessBlobGas"], env["currentRandom"]
    test = load_state_test_file(write_json("defaults.json", doc)).root["storeTest"]
    assert (test.env.base_fee, test.env.excess_blob_gas, test.env.random) == (0x0A, 0, None)


def test_empty_to_means_contract_creation(write_json: WriteJson) -> None:
    doc = state_test()
    doc["storeTest"]["transaction"]["to"] = ""
    test = load_state_test_file(write_json("create.json", doc)).root["storeTest"]
    assert test.transaction.to is None


@pytest.mark.parametrize(
    "text",
    [
        # Deep enough to overflow the standard parser's native stack under the
        # recursion limit py-evm sets (100,000): the process died.
        "[" * 100_000 + "]" * 100_000,
        '{"storeTest": ' + "9" * 5_000 + "}",  # past Python's 4,300-digit conversion limit
    ],
    ids=["nested", "long-integer"],
)
def test_hostile_json_is_an_invalid_fixture(write_json: WriteJson, text: str) -> None:
    import eth  # noqa: F401  (its recursion limit, as in every evmkiln process)

    with pytest.raises(FixtureError, match="invalid JSON"):
        load_state_test_file(write_json("hostile.json", text))


def test_invalid_json_names_the_file(write_json: WriteJson) -> None:
    path = write_json("broken.json", '{"storeTest": {')
    with pytest.raises(FixtureError) as info:
        load_state_test_file(path)
    assert info.value.path == path
    assert str(info.value).startswith(str(path))
    assert "invalid JSON" in str(info.value)


def test_missing_file_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read file"):
        load_state_test_file(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.pop("env"), "storeTest.env: Field required"),
        (lambda t: t["env"].update(currentNumber="0xqq"), "currentNumber"),
        (lambda t: t["pre"].update({"0x1234": t["pre"][next(iter(t["pre"]))]}), "20 bytes"),
        (lambda t: t["transaction"].pop("gasPrice"), "neither gasPrice nor maxFeePerGas"),
        (lambda t: [t["transaction"].pop(k) for k in ("secretKey", "sender")], "secretKey"),
        (lambda t: t["post"]["Cancun"][0]["indexes"].update(gas=5), "indexes.gas = 5 is out"),
        (lambda t: t["post"]["Cancun"][0].update(hash="0x1234"), "32 bytes"),
    ],
)
def test_schema_errors_are_readable(
    write_json: WriteJson, mutate: Callable[[dict[str, Any]], object], message: str
) -> None:
    doc = copy.deepcopy(state_test())
    mutate(doc["storeTest"])
    path = write_json("bad.json", doc)
    with pytest.raises(FixtureError) as info:
        load_state_test_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid fixture:")
    assert message in text
    assert "Traceback" not in text


def test_empty_file_object_is_rejected(write_json: WriteJson) -> None:
    with pytest.raises(FixtureError, match="no test"):
        load_state_test_file(write_json("empty.json", {}))


def _bench_doc() -> dict[str, Any]:
    test = state_test()["storeTest"]
    tx = test["transaction"]
    return {
        "bench": {
            "env": test["env"],
            "pre": test["pre"],
            "transaction": [
                {
                    "data": "0x",
                    "gasLimit": "0x0186a0",
                    "gasPrice": tx["gasPrice"],
                    "nonce": "0x00",
                    "sender": tx["sender"],
                    "to": tx["to"],
                    "value": "0x00",
                }
            ],
        }
    }


def test_bench_file_parses(write_json: WriteJson) -> None:
    bench = load_bench_file(write_json("bench.json", _bench_doc()))
    assert bench.name == "bench"
    spec = bench.fixture.tx.to_spec()
    assert (spec.gas_limit, spec.sender, spec.secret_key) == (100_000, SENDER, None)


def test_bench_file_needs_exactly_one_transaction(write_json: WriteJson) -> None:
    doc = _bench_doc()
    doc["bench"]["transaction"] *= 2
    with pytest.raises(FixtureError, match="exactly one transaction"):
        load_bench_file(write_json("two.json", doc))


@pytest.mark.fixtures
def test_every_shared_fixture_parses(fixtures_root: Path) -> None:
    statetests = sorted((fixtures_root / "statetests").rglob("*.json"))
    assert statetests
    for path in statetests:
        load_state_test_file(path)
    for path in sorted((fixtures_root / "bench").glob("*.json")):
        load_bench_file(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currentNumber", 2**256),
        ("currentTimestamp", 2**256),
        ("currentGasLimit", 2**256),
        ("currentBaseFee", 2**256),
        ("currentDifficulty", 2**256),
        ("currentExcessBlobGas", 2**64),
    ],
)
def test_block_fields_beyond_their_width_are_invalid(
    write_json: WriteJson, field: str, value: int
) -> None:
    """A block field no word (or, for the excess blob gas, no 64-bit header field)
    holds is a malformed fixture: engines failed on it each in their own way."""
    doc = state_test()
    doc["storeTest"]["env"][field] = hex(value)
    with pytest.raises(FixtureError, match=f"{field}.*does not fit"):
        load_state_test_file(write_json("wide.json", doc))
    doc["storeTest"]["env"][field] = hex(value - 1)  # the widest value that fits
    load_state_test_file(write_json("widest.json", doc))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.update(balance=hex(2**256)), "balance"),
        (lambda a: a.update(nonce=hex(2**64)), "nonce"),
        (lambda a: a.update(storage={hex(2**256): "0x01"}), "storage"),
        (lambda a: a.update(storage={"0x01": hex(2**256)}), "storage"),
    ],
)
def test_pre_state_values_beyond_the_state_are_invalid(
    write_json: WriteJson, mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    """An account the state cannot hold is a malformed fixture naming the account's
    field, not py-evm's range error from building the pre-state."""
    doc = state_test()
    mutate(doc["storeTest"]["pre"][CONTRACT_HEX])
    with pytest.raises(FixtureError, match=f"pre.{CONTRACT_HEX}.{field}.*does not fit"):
        load_state_test_file(write_json("wide.json", doc))
    bench = _bench_doc()
    mutate(bench["bench"]["pre"][CONTRACT_HEX])
    with pytest.raises(FixtureError, match=f"pre.{CONTRACT_HEX}.{field}.*does not fit"):
        load_bench_file(write_json("wide_bench.json", bench))


def test_pre_state_values_at_their_width_load(write_json: WriteJson) -> None:
    doc = state_test()
    account = doc["storeTest"]["pre"][CONTRACT_HEX]
    account.update(balance=hex(2**256 - 1), nonce=hex(2**64 - 1))
    account["storage"] = {hex(2**256 - 1): hex(2**256 - 1)}
    test = load_state_test_file(write_json("widest.json", doc)).root["storeTest"]
    assert test.pre[CONTRACT].nonce == 2**64 - 1
    assert test.pre[CONTRACT].storage == {2**256 - 1: 2**256 - 1}


def test_a_blob_schedule_fraction_of_zero_is_invalid(write_json: WriteJson) -> None:
    """The blob base fee divides by it: zero raised ZeroDivisionError mid-run."""
    doc = state_test()
    schedule = {"target": "0x3", "max": "0x6", "baseFeeUpdateFraction": "0x0"}
    doc["storeTest"]["config"] = {"chainid": "0x1", "blobSchedule": {"Cancun": schedule}}
    with pytest.raises(FixtureError, match="baseFeeUpdateFraction"):
        load_state_test_file(write_json("fraction.json", doc))


@pytest.mark.parametrize("where", ["config", "bench"])
def test_a_chain_id_beyond_a_word_is_invalid(write_json: WriteJson, where: str) -> None:
    if where == "config":
        doc = state_test()
        doc["storeTest"]["config"] = {"chainid": hex(2**256)}
        with pytest.raises(FixtureError, match=r"chainid.*does not fit"):
            load_state_test_file(write_json("chain.json", doc))
    else:
        bench = _bench_doc()
        bench["bench"]["transaction"][0]["chainId"] = hex(2**256)
        with pytest.raises(FixtureError, match=r"chainId.*does not fit"):
            load_bench_file(write_json("chain_bench.json", bench))


@pytest.mark.parametrize("key", [0, 2**256 - 1])
def test_a_secret_key_off_the_curve_is_invalid(write_json: WriteJson, key: int) -> None:
    doc = state_test()
    doc["storeTest"]["transaction"]["secretKey"] = "0x" + key.to_bytes(32, "big").hex()
    with pytest.raises(FixtureError, match=r"secretKey.*not a secp256k1 private key"):
        load_state_test_file(write_json("key.json", doc))


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fixture.json"
    os.mkfifo(fifo)
    with pytest.raises(FixtureError, match="not a regular file"):
        load_state_test_file(fifo)
