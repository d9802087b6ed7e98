"""The pytest plugins: evmkiln set up only in processes that run tests, for the whole
session, with a report of the frames that ran compiled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evmkiln.integrations import FRAMES_REPORT_ENV, runs_tests


def config(dist: str, worker: bool = False) -> SimpleNamespace:
    made = SimpleNamespace(option=SimpleNamespace(dist=dist))
    if worker:
        made.workerinput = {"workerid": "gw0"}
    return made


def test_only_xdist_controllers_are_left_alone() -> None:
    assert runs_tests(config("no"))  # plain pytest
    assert not runs_tests(config("load"))  # -n N: the controller
    assert runs_tests(config("load", worker=True))  # -n N: a worker
    assert runs_tests(SimpleNamespace(option=SimpleNamespace()))  # no xdist installed


def test_the_eth_tester_plugin_rebinds_in_workers_only(tmp_path: Path) -> None:
    """Under -n 2, the controller never imports eth-tester; each worker gets KilnBackend."""
    pytest.importorskip("xdist")
    (tmp_path / "test_backend.py").write_text(
        textwrap.dedent(
            """
            import os
            import eth_tester

            def test_rebound():
                assert eth_tester.PyEVMBackend.__name__ == "KilnBackend"
                assert "PYTEST_XDIST_WORKER" in os.environ
            """
        )
    )
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import sys

            def pytest_sessionfinish(session):
                if not hasattr(session.config, "workerinput"):
                    assert "eth_tester" not in sys.modules, "the controller imported eth-tester"
            """
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:boa_test",
            "-p",
            "evmkiln.integrations.pytest_pyevm_backend",
            "-n",
            "2",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def run_pytest(directory: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(directory)],
        capture_output=True,
        text=True,
        cwd=directory,
        env={**os.environ, **env},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout


def run_blocking_suite(tmp_path: Path, source: str, *plugins: str) -> tuple[str, Path]:
    """Run one test module (``source``) with ``plugins``, every code compiled first, the
    frames reported; pytest's output and the report directory."""
    tests = tmp_path / "suite"
    tests.mkdir()
    (tests / "test_suite.py").write_text(textwrap.dedent(source))
    reports = tmp_path / "frames"
    args = [arg for plugin in plugins for arg in ("-p", plugin)]
    env = {"EVMKILN_RUNTIME": "blocking", "EVMKILN_CACHE": "off", FRAMES_REPORT_ENV: str(reports)}
    return run_pytest(tests, *args, env=env), reports


def frames_report(directory: Path, tool: str) -> dict[str, Any]:
    (report,) = directory.glob(f"{tool}-*.json")
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded


def test_the_eth_tester_plugin_reports_the_frames_it_ran(tmp_path: Path) -> None:
    pytest.importorskip("eth_tester")
    # A creation whose initcode returns one byte of runtime code (STOP).
    out, reports = run_blocking_suite(
        tmp_path,
        """
        from eth_tester import EthereumTester, PyEVMBackend

        def test_deploy():
            tester = EthereumTester(PyEVMBackend())
            sender = tester.get_accounts()[0]
            tx = tester.send_transaction(
                {"from": sender, "gas": 100_000, "data": "0x600160006000f3"}
            )
            assert tester.get_transaction_receipt(tx)["status"] == 1
        """,
        "no:boa_test",
        "evmkiln.integrations.pytest_pyevm_backend",
    )
    assert "1 passed" in out
    assert frames_report(reports, "eth-tester")["frames_run_compiled"] >= 1


def test_the_boa_plugin_puts_a_leaked_environment_back_on_evmkiln(tmp_path: Path) -> None:
    """A test that leaves a fresh ``boa.Env()`` behind does not send the rest of the
    session to stock py-evm."""
    pytest.importorskip("boa")
    out, reports = run_blocking_suite(
        tmp_path,
        '''
        import boa
        from evmkiln.integrations import boa as kiln_boa

        def test_a_leaks_an_environment():
            assert kiln_boa.is_enabled()
            boa.set_env(boa.Env())  # never restored
            assert not kiln_boa.is_enabled()

        def test_b_runs_on_evmkiln():
            assert kiln_boa.is_enabled()
            contract = boa.loads("""
        @external
        def twice(x: uint256) -> uint256:
            return x * 2
        """)
            assert contract.twice(21) == 42
        ''',
        "evmkiln.integrations.pytest_boa",
    )
    assert "2 passed" in out
    assert frames_report(reports, "titanoboa")["frames_run_compiled"] >= 2
