"""Count the instructions and cache misses of a bench fixture's message, under callgrind.

The shared machines this project is measured on are noisy: a change of a
few percent in a small call's time is lost between two processes of
``evmkiln bench``.  Instruction counts are not.  This runs a bench fixture
as ``evmkiln bench`` does (a fresh pre-state per run, the first runs to
compile and warm up) under valgrind's callgrind, with collection on only
inside the executor's ``build_computation`` -- the span ``--timing
execution`` times -- and reports per message:

* ``Ir``: instructions executed;
* ``I1 miss``/``D1 miss``: first-level instruction and data cache misses;
* ``L2 miss``: misses of a simulated 1 MiB, 8-way second-level cache (the
  last level callgrind models is set to the size of a Zen 4 core's L2);
* ``cycles~``: a rough cost, ``Ir + 12 * L1 misses + 50 * L2 misses``.

The runs between the measured messages (building the next pre-state) go
through the simulated caches uncounted, so the misses are those of a
message run cold, as in the bench.  The young generation is collected
(uncounted) before each measured message, so a collection falls inside a
message only if the message itself allocates enough to start one: without
that, whether one fell inside depended on every allocation since the
process started, and an unrelated change moved the counts by a few
percent.  With ``PYTHONHASHSEED`` fixed, two runs of one checkout count
the same, and two checkouts of one commit within 1%.  Valgrind runs the
process about fifty times slower: a small call's twenty messages take a
few minutes.

Usage (from the checkout; needs ``valgrind`` on the ``PATH``)::

    uv run --frozen python scripts/message_instructions.py counter -b llvm \\
        --fixtures $EVMKILN_FIXTURES [--messages 20] [--functions 15]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from evmkiln.cli.run_cmd import resolve_fixture_path

WARM_UP_RUNS = 60
"""Runs before the measured ones: the first compiles, the rest let Python specialise."""
TOGGLE = "sys_call_tracing"
"""The C function collection is toggled on: ``sys.call_tracing``, which nothing else calls."""
L2 = "1048576,8,64"
L1_MISS_CYCLES, L2_MISS_CYCLES = 12, 50


def _inner(backend: str, fixture: Path, messages: int) -> None:
    """Run inside valgrind: warm up, then the measured runs with collection toggled on."""
    import evmkiln.bench.engines as engines
    from evmkiln.bench.case import load_case
    from evmkiln.bench.execution_clock import ExecutionClock

    measuring = False

    def counted(vm_class: Any, *, keep_each: bool = False) -> tuple[Any, ExecutionClock]:
        state_class = vm_class.get_state_class()
        executor = state_class.transaction_executor_class

        class CountedExecutor(executor):  # type: ignore[misc, valid-type]
            def build_computation(self, message: Any, transaction: Any) -> Any:
                build = super().build_computation
                if measuring:
                    # Each message starts with the young generation's count at zero,
                    # uncounted: otherwise whether a collection falls inside a message
                    # depends on every allocation since the process started, and a
                    # change anywhere moves the counts.  Only the young generation: a
                    # full collection walks every object (evicting the caches the
                    # message is measured cold in anyway) and empties the free lists.
                    gc.collect(0)
                    return sys.call_tracing(build, (message, transaction))
                return build(message, transaction)

        counted_state = state_class.configure(transaction_executor_class=CountedExecutor)
        return vm_class.configure(_state_class=counted_state), ExecutionClock()

    # The engines time through ``with_execution_clock``; this one counts instead.
    setattr(engines, "with_execution_clock", counted)  # noqa: B010
    case = load_case(fixture, {})
    engine: Any = engines.PyEvmEngine() if backend == "pyevm" else engines.KilnEngine(backend)
    runner = engine.prepare(case)
    for _ in range(WARM_UP_RUNS):
        runner.run()
    measuring = True
    for _ in range(messages):
        runner.run()


def _totals(path: Path) -> dict[str, int]:
    events: list[str] = []
    totals: list[int] = []
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            totals = [int(value) for value in line.split()[1:]]
    return dict(zip(events, totals, strict=False))


def _top_functions(path: Path, count: int) -> list[str]:
    annotate = shutil.which("callgrind_annotate")
    if annotate is None or count <= 0:
        return []
    text = subprocess.run(
        [annotate, "--inclusive=no", str(path)], capture_output=True, text=True, check=False
    ).stdout
    rows = [line for line in text.splitlines() if re.match(r"^\s*[\d,]+ \(", line)]
    # ``/path/to/Objects/dictobject.c:insertdict [/path/lib.so]`` -> ``dictobject.c:insertdict``
    return [
        re.sub(r"\S*/(\S+:\S+)$", r"\1", re.sub(r"\s*\[/[^]]*\]$", "", row))
        for row in rows[1 : count + 1]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixture", help="a bench fixture file, or a name under --fixtures/bench")
    parser.add_argument("-b", "--backend", default="llvm", help="an evmkiln backend, or pyevm")
    parser.add_argument("--fixtures", type=Path, default=os.environ.get("EVMKILN_FIXTURES"))
    parser.add_argument("--messages", type=int, default=20, help="measured messages")
    parser.add_argument("--functions", type=int, default=0, help="show the costliest C functions")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        fixture = resolve_fixture_path(args.fixture, args.fixtures)
    except typer.BadParameter as error:
        parser.error(error.format_message())
    if args.inner:
        _inner(args.backend, fixture, args.messages)
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        parser.error("valgrind is not installed (apt install valgrind)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--cache-sim=yes",
            f"--LL={L2}",
            "--collect-atstart=no",
            f"--toggle-collect={TOGGLE}",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--inner",
            str(fixture),
            "-b",
            args.backend,
            "--messages",
            str(args.messages),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.is_file():
            sys.exit(f"the run under valgrind failed:\n{done.stderr[-4000:]}")
        totals = _totals(out)
        top = _top_functions(out, args.functions)
    n = args.messages
    ir = totals.get("Ir", 0)
    l1 = sum(totals.get(event, 0) for event in ("I1mr", "D1mr", "D1mw"))
    l2 = sum(totals.get(event, 0) for event in ("ILmr", "DLmr", "DLmw"))
    cycles = ir + L1_MISS_CYCLES * l1 + L2_MISS_CYCLES * l2
    print(f"{fixture.stem} on {args.backend}, per message (mean of {n}):")
    print(f"  Ir       {ir / n:12,.0f}")
    print(f"  I1 miss  {totals.get('I1mr', 0) / n:12,.0f}")
    print(f"  D1 miss  {(totals.get('D1mr', 0) + totals.get('D1mw', 0)) / n:12,.0f}")
    print(f"  L2 miss  {l2 / n:12,.0f}")
    print(f"  cycles~  {cycles / n:12,.0f}")
    for row in top:
        print(row)


if __name__ == "__main__":
    main()
