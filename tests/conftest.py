"""Shared pytest configuration: fixture location and the slow-suite switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Profiles for the generated-program tests: "default" in the test command,
# "deep" for long differential runs (HYPOTHESIS_PROFILE=deep).
settings.register_profile(
    "default",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long suites too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long suite: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def fixtures_root() -> Path | None:
    """The fixtures directory from EVMKILN_FIXTURES, or None when it is not available."""
    value = os.environ.get("EVMKILN_FIXTURES")
    if value and Path(value).is_dir():
        return Path(value)
    return None


@pytest.fixture
def fixtures_dir() -> Path:
    root = fixtures_root()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("EVMKILN_FIXTURES is not set to an existing directory, and CI needs it")
        pytest.skip("fixtures not available: set EVMKILN_FIXTURES to the fixtures directory")
    return root
