"""The pytest plugins set evmkiln up only in processes that run tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from evmkiln.integrations import runs_tests


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
