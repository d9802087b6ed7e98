"""Expected-failure lists: documented gaps a run tolerates without failing.

One entry per line: a case id (``path::test[d0g0v0]``), or a pattern over
case ids where ``*`` matches any run of characters (``stFoo/bar.json::*``);
brackets are literal, since every case id ends in ``[d..g..v..]``.  ``#``
starts a comment.  CI
runs with such a list so that known py-evm gaps do not hide regressions:
only failures *not* listed make the run fail, and listed cases that pass are
reported so the list can be trimmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ExpectedFailures:
    """A set of case ids and id patterns."""

    ids: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, text: str) -> ExpectedFailures:
        ids = set()
        patterns = []
        for line in text.splitlines():
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            if "*" in entry:
                regex = ".*".join(re.escape(part) for part in entry.split("*"))
                patterns.append(re.compile(regex + r"\Z"))
            else:
                ids.add(entry)
        return cls(ids=frozenset(ids), patterns=tuple(patterns))

    @classmethod
    def load(cls, path: Path) -> ExpectedFailures:
        return cls.parse(path.read_text())

    def __contains__(self, case_id: object) -> bool:
        if not isinstance(case_id, str):
            return False
        if case_id in self.ids:
            return True
        return any(pattern.match(case_id) for pattern in self.patterns)

    def __len__(self) -> int:
        return len(self.ids) + len(self.patterns)
