"""Fixtures of the CLI tests.

``fixtures_root`` (skip without the shared fixtures, fail in CI) comes from
tests/conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The hand-written state test (with independently computed expectations) lives
# with the runner tests; the CLI tests drive the same document end to end.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "statetest"))
