"""Shared fixtures of the state-test runner tests.

Tests that need the shared fixture files skip when ``EVMKILN_FIXTURES`` is
unset or points nowhere, except in CI (``CI=true``), where missing fixtures
are a configuration error and must fail loudly rather than skip silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evmkiln.fixtures import FIXTURES_ENV_VAR


def fixtures_root_or_skip() -> Path:
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


@pytest.fixture
def fixtures_root() -> Path:
    return fixtures_root_or_skip()


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write a JSON document (or raw text) under the test's tmp dir and return its path."""

    def write(name: str, content: Any) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return write
