"""Execution-spec-tests files: config, set-code transactions, forks other than Cancun."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.prague import PragueVM
from handwritten import SENDER, state_test

from evmkiln.fixtures import FixtureError, load_state_test_file
from evmkiln.forks.blobs import PRAGUE_BLOBS, BlobSchedule
from evmkiln.statetest import RunConfig, Status, run_statetests
from evmkiln.statetest.chain import blob_schedule_of, with_blob_schedule
from evmkiln.statetest.discovery import relative_name
from evmkiln.statetest.transactions import TransactionBuildError, build_transaction

WriteJson = Callable[[str, Any], Path]

BLOB_SCHEDULE = {
    "Cancun": {"target": "0x03", "max": "0x06", "baseFeeUpdateFraction": "0x32f0ed"},
    "Prague": {"target": "0x06", "max": "0x09", "baseFeeUpdateFraction": "0x4c6964"},
    "Osaka": {"target": "0x06", "max": "0x09", "baseFeeUpdateFraction": "0x4c6964"},
}


def eest_test(forks: tuple[str, ...] = ("Prague", "Osaka")) -> dict[str, Any]:
    """The hand-written store test, as EEST writes it: config, post entries for ``forks``."""
    doc = state_test()
    test = doc["storeTest"]
    cases = test["post"].pop("Cancun")
    test["post"] = {fork: copy.deepcopy(cases) for fork in forks}
    test["config"] = {"chainid": "0x01", "blobSchedule": BLOB_SCHEDULE}
    return doc


def _authorization(**overrides: Any) -> dict[str, Any]:
    entry = {
        "chainId": "0x01",
        "address": "0x" + "11" * 20,
        "nonce": "0x00",
        "v": "0x01",
        "r": "0x01",
        "s": "0x02",
        "yParity": "0x01",
        "signer": "0x" + "22" * 20,
    }
    entry.update(overrides)
    return entry


def _set_code_doc() -> dict[str, Any]:
    doc = eest_test()
    tx = doc["storeTest"]["transaction"]
    del tx["gasPrice"]
    tx.update({"maxFeePerGas": "0x0a", "maxPriorityFeePerGas": "0x00"})
    tx["authorizationList"] = [_authorization()]
    return doc


def test_config_and_authorization_list_are_parsed(write_json: WriteJson) -> None:
    test = load_state_test_file(write_json("a.json", _set_code_doc())).root["storeTest"]
    assert test.config.chain_id == 1
    assert test.config.blob_schedule["Prague"].max == 9
    spec = test.transaction_for(test.post["Prague"][0])
    assert spec.authorization_list is not None
    (auth,) = spec.authorization_list
    assert (auth.chain_id, auth.address, auth.parity, auth.r, auth.s) == (1, b"\x11" * 20, 1, 1, 2)


def test_ethereum_tests_files_default_to_chain_1_and_no_schedule(write_json: WriteJson) -> None:
    test = load_state_test_file(write_json("old.json", state_test())).root["storeTest"]
    assert test.config.chain_id == 1 and test.config.blob_schedule == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("address", "0x1234", "authorizationList.0.address"),
        ("r", "0xzz", "authorizationList.0.r"),
        ("yParity", None, "neither yParity nor v"),
    ],
)
def test_malformed_authorization_names_file_and_field(
    write_json: WriteJson, field: str, value: Any, message: str
) -> None:
    doc = _set_code_doc()
    auth = doc["storeTest"]["transaction"]["authorizationList"][0]
    if value is None:
        del auth["yParity"], auth["v"]
    else:
        auth[field] = value
    path = write_json("bad.json", doc)
    with pytest.raises(FixtureError) as info:
        load_state_test_file(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_set_code_transactions_exist_from_prague_on(write_json: WriteJson) -> None:
    test = load_state_test_file(write_json("a.json", _set_code_doc())).root["storeTest"]
    spec = test.transaction_for(test.post["Prague"][0])
    transaction = build_transaction(PragueVM, spec)
    assert transaction.type_id == 4
    assert transaction.sender == SENDER
    assert transaction.authorization_list[0].address == b"\x11" * 20
    with pytest.raises(TransactionBuildError, match="not supported by this fork"):
        build_transaction(CancunVM, spec)


def test_eest_paths_are_named_from_the_suite_root(tmp_path: Path) -> None:
    root = tmp_path / "eest" / "state_tests"
    eip = root / "prague" / "eip7702" / "test_x.json"
    static = root / "static" / "state_tests" / "stFoo" / "bar.json"
    assert relative_name(eip) == "prague/eip7702/test_x.json"
    assert relative_name(static) == "static/state_tests/stFoo/bar.json"


def test_a_run_takes_its_forks_post_entries(write_json: WriteJson) -> None:
    path = write_json("eest/state_tests/prague/eipX/store.json", eest_test())
    for fork in ("prague", "osaka"):
        report = run_statetests(RunConfig(paths=[path], fork=fork, jobs=1, timeout=60))
        assert len(report.results) == 3
        assert all(r.status is Status.PASSED for r in report.results), report.results
        assert report.results[0].case_id == "prague/eipX/store.json::storeTest[d0g0v0]"
        assert report.summary()["fork"] == fork
    cancun = run_statetests(RunConfig(paths=[path], fork="cancun", jobs=1, timeout=60))
    assert cancun.results == []


def test_a_fixtures_blob_schedule_replaces_the_forks() -> None:
    assert blob_schedule_of(PragueVM) == PRAGUE_BLOBS
    assert with_blob_schedule(PragueVM, PRAGUE_BLOBS) is PragueVM
    other = BlobSchedule(target=10, max=15, base_fee_update_fraction=8_346_193)
    scheduled = with_blob_schedule(PragueVM, other)
    assert issubclass(scheduled, PragueVM)
    assert blob_schedule_of(scheduled) == other
    assert with_blob_schedule(PragueVM, other) is scheduled
