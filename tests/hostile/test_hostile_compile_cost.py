"""Compile cost bounded per byte of code: crafted worst cases on every backend.

The crafted codes (:mod:`evmkiln.bench.hostile_codes`) are compiled one after
the other in a child process per backend, through the production path
(``lower_bytecode`` and the backend's ``compile``), under a data-size limit
and a timeout that only catch a runaway.  Each compile's CPU time must stay
within :data:`MAX_CPU_SECONDS` and the child's peak resident memory within
:data:`MAX_RSS_MIB`; the budget must refuse exactly the codes it should.
Code the budget refuses must still run, on py-evm's interpreter, exactly as
on py-evm.

Shapes that LLVM's NewGVN pass handles in quadratic time (identical blocks
meeting at the dispatch or at a loop header, long runs of crossings) are
bounded because no pipeline level runs NewGVN any more.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from typing import Any

import pytest
from evmharness import CONTRACT_A
from hostile_asm import BACKENDS, asm, compare, vm_class

from evmkiln.bench.hostile_codes import hostile_code

DEPLOYED = 24_576
"""EIP-170's limit: the largest code a contract can deploy."""
PRE_STATE = 61_440
"""60 KiB: a state test's pre-state has no code-size limit (the suite goes to 60,012 bytes)."""

MAX_CPU_SECONDS = 20.0
MAX_RSS_MIB = 1536
RUNAWAY_TIMEOUT = 180
RUNAWAY_DATA_BYTES = 6 << 30
"""RLIMIT_DATA of the child: writable memory only, so wasmtime's address-space
reservations for linear memory do not count, and a runaway compile fails
instead of taking the machine."""

COMPILED = "compiled"
REFUSED = "refused"

EXPECTED: dict[str, str] = {
    "jumpdests": COMPILED,
    "jump_table": COMPILED,
    "dynamic_jumps": COMPILED,
    "deep_jumpdests": REFUSED,
    "deep_dynamic_jumpis": REFUSED,
    "dispatch_stores": COMPILED,
    "sstore_loop": COMPILED,
    "crossings": COMPILED,
    "return_calls": COMPILED,
    "stacked_calls": COMPILED,
}
"""What becomes of each shape at 24,576 bytes (the wasm backend refuses
``crossings``: one block of 8,192 calls needs more than wasmtime's 50,000 locals)."""

NEWGVN_SHAPES = frozenset({"dispatch_stores", "sstore_loop", "crossings"})

_CHILD = """
import json, sys, time
from evmkiln.codegen.budget import CompileRefused
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.context.registry import get_backend

backend = get_backend(sys.argv[1])
for path in sys.argv[2:]:
    code = bytes.fromhex(open(path).read())
    start = time.process_time()
    try:
        backend.compile(lower_bytecode(code))
        outcome, why = "compiled", ""
    except CompileRefused as refusal:
        outcome, why = "refused", str(refusal)
    cpu = time.process_time() - start
    print(json.dumps({"outcome": outcome, "why": why, "cpu": cpu}), flush=True)
"""


def _limit_data() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (RUNAWAY_DATA_BYTES, RUNAWAY_DATA_BYTES))


def compile_in_child(
    backend: str, codes: dict[str, bytes], tmp_path: Any
) -> tuple[dict[str, dict[str, Any]], float]:
    """Compile each code in turn in one fresh process.

    Returns each code's outcome and CPU seconds, and the process's peak RSS
    in MiB (its ``ru_maxrss``, read from the parent once it has exited).
    """
    files = []
    for name, code in codes.items():
        path = tmp_path / f"{name}.hex"
        path.write_text(code.hex())
        files.append(str(path))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, backend, *files],
        capture_output=True,
        text=True,
        timeout=RUNAWAY_TIMEOUT,
        preexec_fn=_limit_data,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:  # an earlier child of this worker was bigger: no reading
        peak = before
    reports = [json.loads(line) for line in done.stdout.strip().splitlines()]
    return dict(zip(codes, reports, strict=True)), peak / 1024


def _pipeline_hook() -> bool:
    """No level runs NewGVN (it also aborts on real code, see ``jit.PIPELINES``)."""
    from evmkiln.backend_llvm import jit

    return all(passes is None or "new_gvn" not in passes for passes in jit.PIPELINES.values())


def _check(backend: str, shapes: list[str], tmp_path: Any) -> None:
    reports, peak_mib = compile_in_child(
        backend, {shape: hostile_code(shape, DEPLOYED) for shape in shapes}, tmp_path
    )
    assert peak_mib < MAX_RSS_MIB, reports
    for shape, report in reports.items():
        assert report["cpu"] < MAX_CPU_SECONDS, (shape, report)
        expected = EXPECTED[shape]
        if backend == "wasm" and shape == "crossings":
            expected = REFUSED
        assert report["outcome"] == expected, (shape, report)
        if expected == REFUSED:
            assert "compile budget exceeded" in report["why"], (shape, report)


@pytest.mark.parametrize("backend", BACKENDS)
def test_crafted_codes_compile_within_bounds_or_are_refused(backend: str, tmp_path: Any) -> None:
    shapes = [s for s in EXPECTED if backend != "llvm" or s not in NEWGVN_SHAPES]
    _check(backend, shapes, tmp_path)


def test_llvm_compiles_newgvn_shapes_within_bounds(tmp_path: Any) -> None:
    if not _pipeline_hook():
        pytest.fail("a pipeline level runs NewGVN, which is quadratic on these shapes")
    _check("llvm", sorted(NEWGVN_SHAPES), tmp_path)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pre_state_sized_code_is_refused_early(backend: str, tmp_path: Any) -> None:
    """60 KiB of JUMPDESTs: more blocks than any budget allows, refused before lowering."""
    reports, peak_mib = compile_in_child(
        backend, {"jumpdests": hostile_code("jumpdests", PRE_STATE)}, tmp_path
    )
    report = reports["jumpdests"]
    assert report["outcome"] == REFUSED, report
    assert "IR blocks" in report["why"]
    assert report["cpu"] < MAX_CPU_SECONDS and peak_mib < MAX_RSS_MIB, report


def _refused_program(length: int) -> bytes:
    """Store 42 in slot 0 and log, then a 64-deep stack through JUMPDESTs to the end."""
    head = asm(42, 0, "SSTORE", 32, 0, "LOG0")
    return head + hostile_code("deep_jumpdests", length - len(head))


@pytest.mark.parametrize("length", [DEPLOYED, PRE_STATE])
@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_code_runs_on_the_interpreter(backend: str, length: int) -> None:
    """Refused code is interpreted even with compile failures raised; py-evm's result."""
    code = _refused_program(length)
    vm = vm_class(backend)
    refusals = vm.stats.compile_refusals
    want = compare(backend, {CONTRACT_A: code}, gas=2_000_000)
    assert want.success and len(want.logs) == 1
    assert vm.stats.compile_refusals == refusals + 1
    assert code in vm.stats.refusals
