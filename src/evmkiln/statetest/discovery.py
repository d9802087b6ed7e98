"""Finding fixture files and expanding them into individual cases.

Files come from paths on the command line (files or directories, searched
recursively for ``*.json``) and/or from a list file (one path per line, as the
CI subset is kept).  Each file is parsed once here, in the parent, so that a
malformed file becomes one *errored* result naming it, and the pool can deal
out single cases rather than whole files.

A run targets one fork: the cases of a file are the entries of its ``post``
section under that fork's key (``Cancun``, ``Prague``, ``Osaka``).  Report
names are relative to ``GeneralStateTests`` for ethereum/tests and to
``eest/state_tests`` for execution-spec-tests (``prague/eip7702_set_code_tx/...``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evmkiln.fixtures.loading import FixtureError, load_state_test_file
from evmkiln.statetest.backends import DEFAULT_FORK
from evmkiln.statetest.results import CaseRef, CaseResult

SUITE_DIR_NAME = "GeneralStateTests"
EEST_DIR_NAMES = ("eest", "state_tests")
"""The EEST suite's root, ``.../eest/state_tests``; its ``static/state_tests``
folder must not be mistaken for it."""


def post_key_of(fork: str) -> str:
    """The ``post`` key of a fork's cases (``"prague"`` -> ``"Prague"``)."""
    from evmkiln.forks import fork_spec

    return fork_spec(fork).post_key


@dataclass
class Discovery:
    """Cases to run, and files that produced an error instead of cases."""

    cases: list[CaseRef] = field(default_factory=list)
    file_errors: list[CaseResult] = field(default_factory=list)
    files: int = 0


def relative_name(path: Path, roots: Sequence[Path] = ()) -> str:
    """Report name of a fixture file: relative to ``GeneralStateTests`` if under it.

    Otherwise relative to the first of ``roots`` containing it, else the path as given.
    """
    resolved = path.resolve()
    parts = resolved.parts
    for index in range(len(parts) - 2):
        if parts[index : index + 2] == EEST_DIR_NAMES:
            return "/".join(parts[index + 2 :])
    if SUITE_DIR_NAME in parts:
        index = len(parts) - 1 - parts[::-1].index(SUITE_DIR_NAME)
        tail = parts[index + 1 :]
        if tail:
            return "/".join(tail)
    for root in roots:
        try:
            return resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def read_path_list(list_file: Path) -> list[str]:
    """Entries of a path-list file: one per line, ``#`` starts a comment."""
    entries = []
    for line in list_file.read_text().splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return entries


def _json_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.json") if p.is_file())
    return [path]


def collect_files(
    paths: Sequence[Path], listed: Sequence[str], list_roots: Sequence[Path]
) -> tuple[list[Path], list[str]]:
    """Fixture files to load, and listed entries that were not found.

    Listed entries are tried as given, then relative to each of ``list_roots``.
    """
    files: list[Path] = []
    for path in paths:
        files.extend(_json_files(path))
    missing = []
    for entry in listed:
        candidates = [Path(entry), *(root / entry for root in list_roots)]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            missing.append(entry)
        else:
            files.extend(_json_files(found))
    unique = list(dict.fromkeys(files))
    return unique, missing


def _matches(ref: CaseRef, filters: Sequence[str]) -> bool:
    return not filters or any(f in ref.case_id or f in ref.file for f in filters)


def cases_of_file(file: Path, rel: str, fork: str = DEFAULT_FORK) -> list[CaseRef]:
    """All cases of ``fork`` in a file; raises :class:`FixtureError`."""
    parsed = load_state_test_file(file)
    post_key = post_key_of(fork)
    refs = []
    for test_name, test in parsed.root.items():
        cases = test.post.get(post_key, [])
        seen = Counter((c.indexes.data, c.indexes.gas, c.indexes.value) for c in cases)
        for position, case in enumerate(cases):
            key = (case.indexes.data, case.indexes.gas, case.indexes.value)
            refs.append(
                CaseRef(
                    file=str(file),
                    rel_path=rel,
                    test_name=test_name,
                    post_index=position,
                    data=key[0],
                    gas=key[1],
                    value=key[2],
                    duplicate=seen[key] > 1,
                )
            )
    return refs


def discover(
    paths: Sequence[Path],
    *,
    listed: Sequence[str] = (),
    list_roots: Sequence[Path] = (),
    filters: Iterable[str] = (),
    backend: str = "",
    fork: str = DEFAULT_FORK,
) -> Discovery:
    """Expand paths and list entries into cases, keeping per-file errors."""
    filter_list = list(filters)
    files, missing = collect_files(paths, listed, list_roots)
    roots = [p for p in paths if p.is_dir()] + list(list_roots)
    found = Discovery(files=len(files))
    for entry in missing:
        found.file_errors.append(
            CaseResult.for_file(entry, f"{entry}: listed fixture file not found", backend)
        )
    for file in files:
        rel = relative_name(file, roots)
        try:
            refs = cases_of_file(file, rel, fork)
        except FixtureError as exc:
            if not filter_list or any(f in rel or f in str(file) for f in filter_list):
                found.file_errors.append(CaseResult.for_file(rel, str(exc), backend))
            continue
        found.cases.extend(ref for ref in refs if _matches(ref, filter_list))
    return found
