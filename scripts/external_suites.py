"""Run eth-tester's and web3.py's own test suites on stock py-evm and on evmkiln.

Usage (from the checkout; installs nothing, needs network access to PyPI once)::

    uv run --frozen python scripts/external_suites.py [--suite eth-tester] [--suite web3]
        [--jobs 2] [--repeat 3] [--json out/external.json]

For each suite, the source distribution of the *installed* version is
downloaded from PyPI (checked against the index's SHA-256) into a cache
directory, and its tests run four times, each in a fresh pytest process:

* ``pyevm``: as published (stock ``PyEVMBackend``);
* ``evmkiln``: on ``KilnBackend`` (llvm, the tiered default policy), with the
  persistent code cache off;
* ``evmkiln-warm``: the same with a code cache filled by one run before it;
* ``evmkiln-blocking``: every code compiled before it first runs
  (``EVMKILN_RUNTIME=blocking``).  Under the tiered policy a suite's
  contracts are mostly interpreted (few get hot in a test), so this is the
  configuration that compares compiled frames with stock py-evm.

Each evmkiln configuration reports how many frames ran compiled and how many
on the interpreter (the plugins' ``$EVMKILN_FRAMES_REPORT``); a blocking run
in which no frame ran compiled is an error, not a pass.

titanoboa's tests are not in its source distribution: ``--titanoboa-source``
names a checkout of its repository at the installed version's tag, whose
``tests/unitary`` run with the plugin ``evmkiln.integrations.pytest_boa``.
Tests that need the network (compilers downloaded at run time) fail alike
in every configuration where there is none.

web3.py's eth-tester integration tests build eth-tester's default backend,
which ``ETHEREUM_TESTER_CHAIN_BACKEND`` selects; eth-tester's own backend
tests name ``PyEVMBackend``, which the plugin
``evmkiln.integrations.pytest_pyevm_backend`` rebinds to ``KilnBackend``.

With ``--repeat N`` the four configurations run in N interleaved rounds
(stock, evmkiln, warm, blocking; stock, ...), so that a change in the
machine's load falls on all of them alike, and the wall time reported is
each configuration's median; every round's outcomes are checked.

Before timing anything, every installed module and evmkiln's own sources are
compiled to bytecode (``compileall``), as ``pip install`` leaves a package;
otherwise a process run with ``PYTHONDONTWRITEBYTECODE`` (as some CI
machines and containers set) compiles every module it imports from source,
a fixed cost per pytest worker that is larger for the configuration that
imports more.  ``--no-bytecode`` skips that step.

The report gives, per suite and configuration, tests passed / failed /
skipped and the wall time, and lists every test that passes on stock py-evm
but not on evmkiln (in any round); the exit status is 1 if there is any that is not in
``KNOWN_DIFFERENCES`` (which docs/integrations.md explains).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
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
    args: tuple[str, ...] = ()
    """Given in every configuration."""


WITHOUT_TITANOBOA = ("-p", "no:boa_test")
"""titanoboa registers a pytest plugin, so pytest imports it in every test process
where it is installed, and importing it patches tracers into py-evm's shared
Prague opcode table (stock py-evm then runs them in every VM of that fork).  The
eth-tester and web3.py suites run as their users run them: without titanoboa."""

SUITES = {
    "eth-tester": Suite(
        "eth-tester",
        ("tests/backends",),
        kiln_args=("-p", "evmkiln.integrations.pytest_pyevm_backend"),
        args=WITHOUT_TITANOBOA,
    ),
    "web3": Suite(
        "web3",
        ("tests/integration/test_ethereum_tester.py",),
        # The plugin for its frames report: web3.py builds eth-tester's default
        # backend, which the variable selects.
        kiln_args=("-p", "evmkiln.integrations.pytest_pyevm_backend"),
        kiln_env={"ETHEREUM_TESTER_CHAIN_BACKEND": KILN_BACKEND},
        args=WITHOUT_TITANOBOA,
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

KNOWN_DIFFERENCES: dict[str, str] = {
    "titanoboa::tests.unitary.test_deal::test_deal_failure_non_erc20_totalSupply": (
        "passes or fails with the order of the tests, on stock py-evm too: titanoboa's "
        "SSTORE and KECCAK256 traces outlive a test's rollback, so after "
        "test_decode_hashmap in the same worker a storage dump decodes a nested map "
        "against this contract's flat one"
    ),
}
"""Test ids (suite::nodeid) that pass on stock py-evm and not on evmkiln, with why."""

CONFIGURATIONS = ("pyevm", "evmkiln", "evmkiln-warm", "evmkiln-blocking")


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
    rounds: list[float] = field(default_factory=list)
    """Every round's wall time (``seconds`` is their median)."""
    frames: dict[str, int] = field(default_factory=dict)
    """Frames run compiled and interpreted, every test process added up (evmkiln only)."""

    def count(self, outcome: str) -> int:
        return sum(1 for v in self.tests.values() if v == outcome)


def compile_bytecode() -> float:
    """Compile the installed packages and the workspace's sources to bytecode; the seconds taken.

    Idempotent: modules whose bytecode is current are skipped.
    """
    import compileall
    import sysconfig

    start = time.perf_counter()
    checkout = Path(__file__).resolve().parent.parent
    paths = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    paths |= {checkout / "src", *checkout.glob("packages/*/src")}
    for path in sorted(paths):
        if path.is_dir():
            compileall.compile_dir(path, quiet=1, workers=0)
    return time.perf_counter() - start


def frames_reported(directory: Path) -> dict[str, int]:
    """The frame counts every test process wrote into ``directory``, added up."""
    totals: dict[str, int] = {}
    for report in directory.glob("*.json"):
        for name, value in json.loads(report.read_text()).items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
    return totals


def run(suite: Suite, source: Path, config: str, jobs: int, cache: Path) -> Run:
    env = {**os.environ, "EVMKILN_CACHE": "off"}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(jobs)]
    args += list(suite.args)
    if config != "pyevm":
        env.update(suite.kiln_env)
        args += list(suite.kiln_args)
        env["EVMKILN_RUNTIME"] = "blocking" if config == "evmkiln-blocking" else "tiered"
    if config == "evmkiln-warm":
        env["EVMKILN_CACHE"] = "on"
        env["EVMKILN_CACHE_DIR"] = str(cache)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        reports = Path(tmp) / "frames"
        env["EVMKILN_FRAMES_REPORT"] = str(reports)
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
        return Run(seconds, outcomes(junit), frames=frames_reported(reports))


def combine(each: list[Run]) -> Run:
    """One configuration's rounds: the median wall time; a test passes only if it passed in all."""
    times = sorted(r.seconds for r in each)
    tests: dict[str, str] = {}
    for r in each:
        for test, outcome in r.tests.items():
            if tests.get(test, "passed") == "passed" or outcome == "failed":
                tests[test] = outcome
    frames: dict[str, int] = {}
    for r in each:
        for name, value in r.frames.items():
            frames[name] = frames.get(name, 0) + value
    return Run(statistics.median(times), tests, [r.seconds for r in each], frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=1, help="interleaved rounds; wall times are medians"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--titanoboa-source",
        type=Path,
        help="a checkout of titanoboa at the installed version's tag (its tests are not on PyPI)",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="do not compile the installed modules to bytecode before timing",
    )
    args = parser.parse_args()
    if not args.no_bytecode:
        print(f"bytecode compiled in {compile_bytecode():.1f} s", flush=True)
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
            rounds: dict[str, list[Run]] = {config: [] for config in CONFIGURATIONS}
            # Fill the warm configuration's cache first (not reported).
            run(suite, source, "evmkiln-warm", args.jobs, Path(code_cache))
            for _ in range(args.repeat):
                for config in CONFIGURATIONS:
                    rounds[config].append(run(suite, source, config, args.jobs, Path(code_cache)))
            runs = {config: combine(each) for config, each in rounds.items()}
            for config, r in runs.items():
                spread = ""
                if len(r.rounds) > 1:
                    spread = f"  (rounds {', '.join(f'{t:.1f}' for t in r.rounds)})"
                frames = ""
                if config != "pyevm":
                    frames = (
                        f"  frames compiled {r.frames.get('frames_run_compiled', 0):,}"
                        f" interpreted {r.frames.get('frames_interpreted', 0):,}"
                    )
                print(
                    f"{name} {version(suite.distribution)} {config:16} "
                    f"passed {r.count('passed'):4}  failed {r.count('failed'):3}  "
                    f"skipped {r.count('skipped'):3}  {r.seconds:7.1f} s{spread}{frames}",
                    flush=True,
                )
            if not runs["evmkiln-blocking"].frames.get("frames_run_compiled"):
                print(f"  evmkiln-blocking: no frame ran compiled in {name}'s tests")
                unexpected.append(f"evmkiln-blocking: {name}: no compiled frame")
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
                c: {
                    "seconds": r.seconds,
                    "rounds": r.rounds,
                    "passed": r.count("passed"),
                    "frames": r.frames,
                    "tests": r.tests,
                }
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
