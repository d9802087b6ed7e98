"""Fixtures of the CLI tests.

Tests that need the shared fixture files skip when ``EVMKILN_FIXTURES`` is
unset or points nowhere, except in CI (``CI=true``), where missing fixtures
are a configuration error and must fail rather than skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from evmkiln.fixtures import FIXTURES_ENV_VAR

# The hand-written state test (with independently computed expectations) lives
# with the runner tests; the CLI tests drive the same document end to end.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "statetest"))


@pytest.fixture
def fixtures_root() -> Path:
    value = os.environ.get(FIXTURES_ENV_VAR, "").strip()
    root = Path(value) if value else None
    if root is not None and (root / "statetests").is_dir() and (root / "bench").is_dir():
        return root
    reason = (
        f"{FIXTURES_ENV_VAR} is unset"
        if root is None
        else f"{FIXTURES_ENV_VAR}={root} has no statetests/ and bench/"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"fixtures required in CI: {reason}")
    pytest.skip(f"needs the shared fixtures: {reason}")
