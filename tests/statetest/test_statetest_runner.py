"""The state-test runner on hand-written fixtures: verdicts, errors, timeouts, JSON."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from handwritten import looping_test, state_test

from evmkiln.statetest import ExpectedFailures, RunConfig, Status, run_statetests
from evmkiln.statetest.backends import BackendUnavailable, resolve_vm_class
from evmkiln.statetest.results import CaseResult

WriteJson = Callable[[str, Any], Path]


def _run(paths: list[Path], **options: Any) -> Any:
    options.setdefault("jobs", 2)
    options.setdefault("timeout", 60)
    return run_statetests(RunConfig(paths=paths, **options))


def _by_label(results: list[CaseResult]) -> dict[str, CaseResult]:
    return {r.case_id.rsplit("[", 1)[-1].rstrip("]"): r for r in results}


def test_hand_written_state_test_passes(write_json: WriteJson) -> None:
    path = write_json("GeneralStateTests/stHand/store.json", state_test())
    report = _run([path])
    results = _by_label(report.results)
    assert set(results) == {"d0g0v0", "d0g0v1", "d0g1v0"}
    assert all(r.status is Status.PASSED for r in results.values()), report.results
    assert "rejected as expected" in results["d0g1v0"].reason
    assert results["d0g0v0"].case_id == "stHand/store.json::storeTest[d0g0v0]"
    assert report.ok


def test_wrong_expectations_fail_with_reasons(write_json: WriteJson) -> None:
    doc = copy.deepcopy(state_test())
    cases = doc["storeTest"]["post"]["Cancun"]
    cases[0]["hash"] = "0x" + "11" * 32
    cases[1]["logs"] = "0x" + "22" * 32
    del cases[2]["expectException"]
    report = _run([write_json("wrong.json", doc)])
    results = _by_label(report.results)
    assert results["d0g0v0"].status is Status.FAILED
    assert "state root" in results["d0g0v0"].reason
    assert "logs hash" in results["d0g0v1"].reason
    assert "transaction rejected" in results["d0g1v0"].reason
    assert not report.ok


def test_corrupted_file_is_reported_not_fatal(write_json: WriteJson, tmp_path: Path) -> None:
    write_json("suite/good.json", state_test())
    write_json("suite/corrupt.json", '{"storeTest": {"env": ')
    bad_schema = copy.deepcopy(state_test())
    del bad_schema["storeTest"]["pre"]
    write_json("suite/schema.json", bad_schema)
    report = _run([tmp_path / "suite"])
    errored = {r.path: r for r in report.results if r.status is Status.ERRORED}
    assert set(errored) == {"corrupt.json", "schema.json"}
    assert "invalid JSON" in errored["corrupt.json"].reason
    assert "corrupt.json" in errored["corrupt.json"].reason
    assert "storeTest.pre: Field required" in errored["schema.json"].reason
    assert report.count(Status.PASSED) == 3


def test_missing_listed_file_is_errored(write_json: WriteJson, tmp_path: Path) -> None:
    write_json("root/stHand/store.json", state_test())
    report = _run(
        [], listed=["stHand/store.json", "stHand/absent.json"], list_roots=[tmp_path / "root"]
    )
    statuses = {r.path: r.status for r in report.results}
    assert statuses["stHand/absent.json"] is Status.ERRORED
    assert report.count(Status.PASSED) == 3


def test_filter_selects_cases(write_json: WriteJson) -> None:
    path = write_json("store.json", state_test())
    report = _run([path], filters=["[d0g0v1]"])
    assert [r.status for r in report.results] == [Status.PASSED]


def test_case_exceeding_timeout_is_killed_and_reported(
    write_json: WriteJson, tmp_path: Path
) -> None:
    write_json("suite/a_loop.json", looping_test())
    write_json("suite/b_store.json", state_test())
    report = _run([tmp_path / "suite"], jobs=1, timeout=0.5)
    statuses = {r.case_id: r.status for r in report.results}
    assert statuses["a_loop.json::loopTest[d0g0v0]"] is Status.TIMEOUT
    timed_out = next(r for r in report.results if r.status is Status.TIMEOUT)
    assert "0.5 s" in timed_out.reason
    # The worker was replaced: the cases after the hung one still ran.
    assert report.count(Status.PASSED) == 3


def test_expected_failures_make_the_run_ok(write_json: WriteJson) -> None:
    doc = copy.deepcopy(state_test())
    doc["storeTest"]["post"]["Cancun"][0]["hash"] = "0x" + "11" * 32
    path = write_json("GeneralStateTests/stHand/wrong.json", doc)
    expected = ExpectedFailures.parse(
        "# documented gap\nstHand/wrong.json::storeTest[d0g0v0]  # wrong hash\n"
        "stHand/wrong.json::storeTest[d0g0v1]\n"
    )
    report = _run([path], expected_failures=expected)
    assert report.count(Status.FAILED) == 1
    assert report.ok
    assert [r.case_id for r in report.unexpected_passes] == ["stHand/wrong.json::storeTest[d0g0v1]"]


def test_expected_failure_patterns() -> None:
    expected = ExpectedFailures.parse("stA/*.json::*\nstB/x.json::t[d0g0v0]\n")
    assert "stA/foo.json::t[d1g0v0]" in expected
    assert "stB/x.json::t[d0g0v0]" in expected
    assert "stB/x.json::t[d0g0v1]" not in expected
    assert "stC/foo.json::t[d0g0v0]" not in expected


def test_json_output(write_json: WriteJson) -> None:
    report = _run([write_json("GeneralStateTests/stHand/store.json", state_test())])
    data = json.loads(report.json_text())
    assert data["summary"]["cases"] == 3
    assert data["summary"]["passed"] == 3
    first = data["results"][0]
    assert set(first) >= {
        "case_id",
        "path",
        "test_name",
        "indexes",
        "status",
        "reason",
        "duration",
        "backend",
        "expected_failure",
    }
    assert first["path"] == "stHand/store.json"
    assert first["test_name"] == "storeTest"
    assert first["indexes"] == {"data": 0, "gas": 0, "value": 0}
    assert first["status"] == "passed"
    assert first["backend"] == "pyevm"


def test_unavailable_backend_errors_every_case(write_json: WriteJson) -> None:
    report = _run([write_json("store.json", state_test())], backend="no-such-backend", jobs=1)
    assert {r.status for r in report.results} == {Status.ERRORED}
    assert "no-such-backend" in report.results[0].reason


def test_crashing_worker_is_reported_and_replaced(write_json: WriteJson) -> None:
    report = _run([write_json("store.json", state_test())], backend="crashing_vm:ExitingVM")
    assert [r.status for r in report.results] == [Status.ERRORED] * 3
    assert all("worker process died (exit code 3)" in r.reason for r in report.results)


def test_vm_exception_is_errored_with_location(write_json: WriteJson) -> None:
    report = _run([write_json("store.json", state_test())], backend="crashing_vm:RaisingVM")
    statuses = _by_label(report.results)
    assert statuses["d0g0v0"].status is Status.ERRORED
    assert "RuntimeError: backend bug (at " in statuses["d0g0v0"].reason
    assert "crashing_vm.py" in statuses["d0g0v0"].reason


def test_unimportable_vm_class_errors_every_case(write_json: WriteJson) -> None:
    report = _run([write_json("store.json", state_test())], backend="no_such_module:VM", jobs=1)
    assert {r.status for r in report.results} == {Status.ERRORED}
    assert "cannot import VM class 'no_such_module:VM'" in report.results[0].reason


@pytest.mark.parametrize(
    ("spec", "found"),
    [
        ("builtins:int", "names the class int"),
        ("os:sep", "names a str"),
        ("eth.vm.base:VM", "names an abstract VM class"),
    ],
)
def test_a_spec_naming_no_vm_class_is_refused(spec: str, found: str) -> None:
    """Said when the class is resolved, not as an AttributeError once a case runs."""
    with pytest.raises(BackendUnavailable) as refused:
        resolve_vm_class(spec)
    assert str(refused.value) == (
        f"{spec!r} {found}, not a VM class to run on: expected a concrete subclass of "
        "py-evm's eth.abc.VirtualMachineAPI, such as eth.vm.forks.cancun:CancunVM"
    )
    assert resolve_vm_class("eth.vm.forks.cancun:CancunVM") is CancunVM


def test_workers_are_recycled_without_losing_cases(write_json: WriteJson, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_json(f"suite/{name}.json", state_test())
    report = _run([tmp_path / "suite"], jobs=2, max_cases_per_worker=2)
    assert [r.status for r in report.results] == [Status.PASSED] * 9
