"""The test suite's Hypothesis profiles (registered by tests/conftest.py)."""

from __future__ import annotations

DEEP_SCALE = 10
"""How many times its own ``max_examples`` a test runs under the ``deep`` profile."""
