"""Every reproducer kept in ``regressions/`` replays as a match (or fails as its ``xfail`` says).

Reproducers land here when a fuzzing run finds a bug: the file stays after
the fix, so the bug cannot come back unnoticed.  A bug not fixed yet keeps
its file with ``"xfail": "<reason>"``.  Files of kind ``sample`` are not
bugs but programs worth keeping for their shape.  Crash reproducers replay
in a worker process, everything else in this one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM

from evmkiln.deep_stack import on_deep_stack
from evmkiln.fuzz.replay import replay
from evmkiln.fuzz.reproducer import load_reproducer

REGRESSIONS = Path(__file__).parent / "regressions"


def _xfail_reason(path: Path) -> str | None:
    try:
        reason = json.loads(path.read_text()).get("xfail")
    except (OSError, ValueError, AttributeError):
        return None  # the test itself reports what is wrong with the file
    return reason if isinstance(reason, str) and reason else None


def _cases() -> list[Any]:
    files = sorted(REGRESSIONS.glob("*.json"))
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no reproducers kept yet"))]
    cases = []
    for path in files:
        reason = _xfail_reason(path)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        cases.append(pytest.param(path, id=path.stem, marks=marks))
    return cases


@pytest.mark.parametrize("path", _cases())
def test_kept_reproducer_replays_as_a_match(path: Path) -> None:
    reproducer = load_reproducer(path)
    isolated = reproducer.kind in ("crash", "timeout")
    result = on_deep_stack(lambda: replay(reproducer, isolated=isolated))
    assert result.matched, f"{path.name}: {result.verdict} on {result.backend}: {result.detail}"
    if reproducer.expected is not None and not isolated:
        # py-evm itself still does what it did when the file was written.
        program = reproducer.program()
        assert on_deep_stack(lambda: program.run(CancunVM)) == reproducer.expected.outcome()
