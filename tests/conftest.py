"""Shared pytest configuration: fixture location, the slow-suite switch, no user code cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis_profiles import DEEP_SCALE

from evmkiln.fixtures import FIXTURES_ENV_VAR

# Tests never read or write the user's persistent code cache (every process the
# tests start inherits this); the cache's own tests pass a directory and turn it on.
os.environ["EVMKILN_CACHE"] = "off"

# Profiles for the generated-program tests: "default" in the test command,
# "deep" for long differential runs (HYPOTHESIS_PROFILE=deep, or pytest's
# --hypothesis-profile=deep), which also runs every test that sets its own
# number of examples DEEP_SCALE times as many.
settings.register_profile(
    "default",
    max_examples=300,
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


def _deep(config: pytest.Config) -> bool:
    chosen = getattr(config.option, "hypothesis_profile", None)
    return (chosen or os.environ.get("HYPOTHESIS_PROFILE")) == "deep"


def _scale_examples(items: list[pytest.Item], factor: int) -> None:
    """Each Hypothesis test's own ``max_examples`` times ``factor`` (a test's
    ``@settings`` takes precedence over any profile, so a profile alone would leave
    those tests as they are).

    Only a count the test set itself is scaled: ``@given`` hands every other
    test the profile's settings, whose count is already the deep one, and a
    test marked ``profile_sized`` takes its count from the profile.
    """
    profile_count = settings.default.max_examples
    scaled: set[int] = set()
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or id(test) in scaled:
            continue
        if own.max_examples == profile_count or item.get_closest_marker("profile_sized"):
            continue
        scaled.add(id(test))
        scaled_settings = settings(own, max_examples=own.max_examples * factor)
        test._hypothesis_internal_use_settings = scaled_settings  # type: ignore[union-attr]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _deep(config):
        _scale_examples(items, DEEP_SCALE)
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long suite: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def fixtures_root_or_skip() -> Path:
    """The fixtures directory (with statetests/ and bench/) from EVMKILN_FIXTURES.

    Skips the test when it is not available, except in CI (``CI=true``), where
    missing fixtures are a configuration error and fail the test instead.
    """
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
