"""Run eth-tester's and web3.py's own test suites on stock py-evm and on evmkiln.

Usage (from the checkout; installs nothing, needs network access to PyPI once)::

    uv run --frozen python scripts/external_suites.py [--suite eth-tester] [--suite web3]
        [--jobs 2] [--json out/external.json]

For each suite, the source distribution of the *installed* version is
downloaded from PyPI (checked against the index's SHA-256) into a cache
directory, and its tests run three times, each in a fresh pytest process:

* ``pyevm``: as published (stock ``PyEVMBackend``);
* ``evmkiln``: on ``KilnBackend`` (llvm, the tiered default policy), with the
  persistent code cache off;
* ``evmkiln-warm``: the same with a code cache filled by one run before it.

titanoboa's tests are not in its source distribution: ``--titanoboa-source``
names a checkout of its repository at the installed version's tag, whose
``tests/unitary`` run with the plugin ``evmkiln.integrations.pytest_boa``.
Tests that need the network (compilers downloaded at run time) fail alike
in every configuration where there is none.

web3.py's eth-tester integration tests build eth-tester's default backend,
which ``ETHEREUM_TESTER_CHAIN_BACKEND`` selects; eth-tester's own backend
tests name ``PyEVMBackend``, which the plugin
``evmkiln.integrations.pytest_pyevm_backend`` rebinds to ``KilnBackend``.

The report gives, per suite and configuration, tests passed / failed /
skipped and the wall time, and lists every test that passes on stock py-evm
but not on evmkiln; the exit status is 1 if there is any that is not in
``KNOWN_DIFFERENCES`` (which docs/integrations.md explains).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

KILN_BACKEND = "evmkiln.integrations.eth_tester.KilnBackend"


@dataclass(frozen=True)
class Suite:
    distribution: str
    paths: tuple[str, ...]
    kiln_args: tuple[str, ...] = ()
    kiln_env: dict[str, str] = field(default_factory=dict)


SUITES = {
    "eth-tester": Suite(
        "eth-tester",
        ("tests/backends",),
        kiln_args=("-p", "evmkiln.integrations.pytest_pyevm_backend"),
    ),
    "web3": Suite(
        "web3",
        ("tests/integration/test_ethereum_tester.py",),
        kiln_env={"ETHEREUM_TESTER_CHAIN_BACKEND": KILN_BACKEND},
    ),
    # Not in titanoboa's source distribution: give a checkout of its repository at the
    # installed version's tag with --titanoboa-source.  Jupyter's tests are left out.
    "titanoboa": Suite(
        "titanoboa",
        (
            "tests/unitary",
            "--ignore=tests/unitary/jupyter",
            "--ignore=tests/unitary/test_ipython.py",
            "--continue-on-collection-errors",
        ),
        kiln_args=("-p", "evmkiln.integrations.pytest_boa"),
    ),
}

KNOWN_DIFFERENCES: dict[str, str] = {}
"""Test ids (suite::nodeid) that pass on stock py-evm and not on evmkiln, with why."""

CONFIGURATIONS = ("pyevm", "evmkiln", "evmkiln-warm")


def cache_root() -> Path:
    root = os.environ.get("EVMKILN_EXTERNAL_DIR")
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir("evmkiln")) / "external-suites"


def fetch_sdist(distribution: str, root: Path) -> Path:
    """The extracted source distribution of the installed ``distribution``."""
    installed = version(distribution)
    stem = distribution.replace("-", "_")
    target = root / f"{stem}-{installed}"
    if (target / ".complete").is_file():
        return target
    index = f"https://pypi.org/simple/{distribution}/"
    with urllib.request.urlopen(index, timeout=60) as response:
        page = response.read().decode()
    pattern = (
        rf'href="([^"#]*/{re.escape(stem)}-{re.escape(installed)}\.tar\.gz)#sha256=([0-9a-f]+)"'
    )
    match = re.search(pattern, page, re.IGNORECASE)
    if match is None:
        raise SystemExit(f"{index}: no source distribution of {distribution} {installed}")
    url, digest = match.groups()
    with urllib.request.urlopen(url, timeout=300) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise SystemExit(f"{url}: SHA-256 does not match the index's")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        archive = Path(tmp) / "sdist.tar.gz"
        archive.write_bytes(data)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        extracted = Path(tmp) / f"{stem}-{installed}"
        if not extracted.is_dir():
            raise SystemExit(f"{url}: the archive has no {extracted.name}/")
        if target.exists():
            shutil.rmtree(target)
        extracted.rename(target)
    (target / ".complete").write_text(digest)
    return target


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> passed / failed / skipped, from pytest's JUnit XML."""
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            result[name] = "failed"
        elif "skipped" in kinds:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


@dataclass
class Run:
    seconds: float
    tests: dict[str, str]

    def count(self, outcome: str) -> int:
        return sum(1 for v in self.tests.values() if v == outcome)


def run(suite: Suite, source: Path, config: str, jobs: int, cache: Path) -> Run:
    env = {**os.environ, "EVMKILN_CACHE": "off"}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(jobs)]
    if config != "pyevm":
        env.update(suite.kiln_env)
        args += list(suite.kiln_args)
        env["EVMKILN_RUNTIME"] = "tiered"
    if config == "evmkiln-warm":
        env["EVMKILN_CACHE"] = "on"
        env["EVMKILN_CACHE_DIR"] = str(cache)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        done = subprocess.run(
            [*args, f"--junitxml={junit}", *suite.paths],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if not junit.is_file():
            raise SystemExit(f"{suite.distribution} ({config}) did not run:\n{done.stdout[-3000:]}")
        return Run(seconds, outcomes(junit))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--titanoboa-source",
        type=Path,
        help="a checkout of titanoboa at the installed version's tag (its tests are not on PyPI)",
    )
    args = parser.parse_args()
    root = cache_root()
    report: dict[str, object] = {}
    unexpected: list[str] = []
    for name in args.suite or sorted(SUITES):
        suite = SUITES[name]
        if name == "titanoboa":
            if args.titanoboa_source is None:
                print("titanoboa: skipped (no --titanoboa-source)")
                continue
            source = args.titanoboa_source
        else:
            source = fetch_sdist(suite.distribution, root)
        with tempfile.TemporaryDirectory() as code_cache:
            runs: dict[str, Run] = {}
            for config in CONFIGURATIONS:
                if config == "evmkiln-warm":  # fill the cache first (not reported)
                    run(suite, source, config, args.jobs, Path(code_cache))
                r = runs[config] = run(suite, source, config, args.jobs, Path(code_cache))
                print(
                    f"{name} {version(suite.distribution)} {config:13} "
                    f"passed {r.count('passed'):4}  failed {r.count('failed'):3}  "
                    f"skipped {r.count('skipped'):3}  {r.seconds:7.1f} s",
                    flush=True,
                )
        for config in CONFIGURATIONS[1:]:
            kiln = runs[config].tests
            for test, outcome in sorted(runs["pyevm"].tests.items()):
                if outcome == "passed" and kiln.get(test) != "passed":
                    key = f"{name}::{test}"
                    known = KNOWN_DIFFERENCES.get(key)
                    note = f" ({known})" if known else ""
                    print(f"  {config}: {test}: {kiln.get(test)}{note}")
                    if known is None:
                        unexpected.append(f"{config}: {key}")
        report[name] = {
            "version": version(suite.distribution),
            "runs": {
                c: {"seconds": r.seconds, "passed": r.count("passed"), "tests": r.tests}
                for c, r in runs.items()
            },
        }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    if unexpected:
        print(f"{len(unexpected)} test(s) pass on stock py-evm and not on evmkiln")
        return 1
    print("every test that passes on stock py-evm passes on evmkiln")
    return 0


if __name__ == "__main__":
    sys.exit(main())
