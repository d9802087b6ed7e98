"""Every backend runs state tests in a process limited to 4 GiB of address space.

Containers and CI runners may set ``RLIMIT_AS`` (``ulimit -v``).  The wasm
backend's instances used to reserve 4160 MiB of address space each, so under
any such limit nearly every case failed with ``mmap failed to reserve``; it
now switches to its compact memory mode.  The cases below include frames
nested to the EVM's full call depth (one instance, LLVM run state or
interpreter frame per level) and memory-heavy ones, run through the
``evmkiln statetest`` command by a process that limits itself first (its
workers inherit the limit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 4 << 30
"""Bytes of address space: what the requirement names."""
CASES = [
    # nested to depth 1024 (CALL, DELEGATECALL, CREATE2, reverts on the way up)
    "stDelegatecallTestHomestead/Delegatecall1024.json",
    "stCreate2/Create2OnDepth1024.json",
    "stRevertTest/LoopCallsDepthThenRevert3.json",
    "stStaticCall/static_CallRecursiveBomb0_OOG_atMaxCallDepth.json",
    # from the CI subset: deep calls with 1 MB of call data, memory bounds and growth
    "stQuadraticComplexityTest/Call1MB1024Calldepth.json",
    "stMemoryStressTest/MSTORE_Bounds.json",
    "stMemoryTest/mem64kb_singleByte+33.json",
    "Cancun/stEIP5656-MCOPY/MCOPY_memory_hash.json",
    "stCallCodes/callcallcall_000.json",
    "Pyspecs/cancun/eip5656_mcopy/no_memory_corruption_on_upper_call_stack_levels.json",
]
LIMITED = """
import resource, sys
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from evmkiln.cli.main import app
sys.argv[0] = "evmkiln"
app()
"""
"""``evmkiln ARGS`` in a process that first limits its own address space."""


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
def test_state_tests_pass_under_a_4_gib_address_space_limit(
    backend: str, fixtures_root: Path, tmp_path: Path
) -> None:
    suite = fixtures_root / "statetests" / "GeneralStateTests"
    report = tmp_path / "report.json"
    args = [str(suite / case) for case in CASES]
    args += ["--backend", backend, "--jobs", "2", "--timeout", "300", "-q", "--json", str(report)]
    done = subprocess.run(
        [sys.executable, "-c", LIMITED, str(LIMIT), "statetest", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert report.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(report.read_text())
    failing = [
        f"{r['status']}: {r['case_id']}: {r['reason'][:300]}"
        for r in results["results"]
        if r["status"] != "passed"
    ]
    assert not failing, "\n".join(failing)
    summary = results["summary"]
    assert summary["files"] == len(CASES) and summary["cases"] >= len(CASES)
    assert done.returncode == 0, done.stderr[-3000:]
