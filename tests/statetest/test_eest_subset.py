"""A few execution-spec-tests files per fork, on the py-evm baseline and on the IR backend.

``eest/ci_subset.txt`` lists files relative to ``eest/state_tests``; each
fork runs the cases it has in them (``post["Cancun"]``, ``["Prague"]``,
``["Osaka"]``).  Failures listed in ``eest/<fork>_known_failures.txt``
(py-evm's own gaps) are tolerated; anything else fails the test.  The
whole is sized to about a minute on two cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evmkiln.statetest import ExpectedFailures, RunConfig, Status, run_statetests
from evmkiln.statetest.discovery import read_path_list
from evmkiln.statetest.runner import default_jobs

HERE = Path(__file__).parent / "eest"
SUBSET = HERE / "ci_subset.txt"
_CASE_TIMEOUT = 300.0
_SHOWN_FAILURES = 20


def _suite(fixtures_root: Path) -> Path:
    return fixtures_root / "eest" / "state_tests"


@pytest.mark.fixtures
def test_eest_subset_lists_existing_files(fixtures_root: Path) -> None:
    listed = read_path_list(SUBSET)
    missing = [entry for entry in listed if not (_suite(fixtures_root) / entry).is_file()]
    assert listed and not missing, f"listed files not in the fixtures: {missing}"


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", ["pyevm", "ir"])
@pytest.mark.parametrize("fork", ["cancun", "prague", "osaka"])
def test_eest_subset(fork: str, backend: str, fixtures_root: Path) -> None:
    report = run_statetests(
        RunConfig(
            listed=read_path_list(SUBSET),
            list_roots=[_suite(fixtures_root)],
            backend=backend,
            fork=fork,
            jobs=default_jobs(),
            timeout=_CASE_TIMEOUT,
            expected_failures=ExpectedFailures.load(HERE / f"{fork}_known_failures.txt"),
        )
    )
    assert report.count(Status.PASSED) > 0
    unexpected = report.unexpected_failures
    shown = "\n".join(
        f"{r.status.value}: {r.case_id}: {r.reason[:300]}" for r in unexpected[:_SHOWN_FAILURES]
    )
    failed = f"{len(unexpected)} of {len(report.results)} {fork} cases failed"
    assert not unexpected, f"{failed}:\n{shown}"
