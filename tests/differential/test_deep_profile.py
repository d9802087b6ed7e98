"""The ``deep`` Hypothesis profile also deepens tests that set their own number of examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis_profiles import DEEP_SCALE

TESTS = Path(__file__).resolve().parents[1]
PROBE = """
from hypothesis import given, settings, strategies as st

SEEN = []
PLAIN = []


@settings(max_examples=7)
@given(st.integers())
def test_counted(x):
    SEEN.append(x)


@given(st.integers())
def test_plain(x):
    PLAIN.append(x)


def test_report():
    print("EXAMPLES", len(SEEN), len(PLAIN))
"""


def _examples(tmp_path: Path, *options: str, profile: str | None = None) -> tuple[int, int]:
    """Examples run by a test with its own count (7) and by one without."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS / "support")])}
    env.pop("HYPOTHESIS_PROFILE", None)
    if profile is not None:
        env["HYPOTHESIS_PROFILE"] = profile
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"]
    command += ["-p", "conftest", "-p", "no:xdist", "--rootdir", str(tmp_path), *options]
    done = subprocess.run(
        [*command, "test_probe.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "EXAMPLES" in line)
    counted, plain = line.split("EXAMPLES")[1].split()
    return int(counted), int(plain)


@pytest.mark.parametrize(
    ("options", "profile"),
    [((), None), (("--hypothesis-profile=deep",), None), ((), "deep")],
    ids=["default", "option", "environment"],
)
def test_deep_runs_each_test_its_scale_times_over(
    tmp_path: Path, options: tuple[str, ...], profile: str | None
) -> None:
    deep = options or profile
    counted, plain = _examples(tmp_path, *options, profile=profile)
    assert counted == (7 * DEEP_SCALE if deep else 7)
    # A test without a count of its own runs the profile's, not DEEP_SCALE times it.
    assert plain == (3000 if deep else 300)
