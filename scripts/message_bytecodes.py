"""Count the Python bytecodes a bench fixture's message runs, per function.

The host's cost is Python: how many bytecodes a message runs, and where,
says which crossing or layer to work on, and unlike a time it is the same
on every run and every machine.  This runs a bench fixture as ``evmkiln
bench`` does (a fresh pre-state per run, warm-up runs first), then traces
one message with ``sys.settrace`` opcode events, counting only inside the
executor's ``build_computation`` (the span ``--timing execution`` times),
or with ``--transaction`` inside the VM's ``apply_transaction`` (the span
``--timing transaction`` times: py-evm's envelope too).
Native code and C functions count nothing: see
``scripts/message_instructions.py`` for machine instructions and cache
misses.

Usage (from the checkout)::

    uv run --frozen python scripts/message_bytecodes.py counter -b llvm \\
        --fixtures $EVMKILN_FIXTURES [--functions 30] [--transaction]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from evmkiln.cli.run_cmd import resolve_fixture_path

WARM_UP_RUNS = 100
"""Runs before the traced one: the first compiles, the rest settle caches and tiers."""
SPAN = "build_computation"
TRANSACTION_SPAN = "apply_transaction"


def _where(frame: FrameType) -> str:
    """``package/module.py:function``, short of the installation's prefix."""
    code = frame.f_code
    path = code.co_filename.split("/src/")[-1].split("site-packages/")[-1]
    return f"{path}:{code.co_name}"


def _spans_message(frame: FrameType) -> bool:
    """Whether ``frame`` is the timed executor's ``build_computation``."""
    code = frame.f_code
    return code.co_name == SPAN and "execution_clock" in code.co_filename


def _spans_transaction(frame: FrameType) -> bool:
    """Whether ``frame`` is a VM's ``apply_transaction`` (not the fixture runner's)."""
    code = frame.f_code
    return code.co_name == TRANSACTION_SPAN and "statetest" not in code.co_filename


def count_bytecodes(backend: str, fixture: Path, *, transaction: bool = False) -> Counter[str]:
    """Bytecodes one message of ``fixture`` runs on ``backend``, by function
    (``transaction``: the whole ``apply_transaction``)."""
    from evmkiln.bench.case import load_case
    from evmkiln.bench.engines import KilnEngine
    from evmkiln.bench.execution_clock import EXECUTION, TRANSACTION

    timing = TRANSACTION if transaction else EXECUTION
    spans = _spans_transaction if transaction else _spans_message
    runner = KilnEngine(backend, timing).prepare(load_case(fixture, {}))
    for _ in range(WARM_UP_RUNS):
        runner.run()
    counts: Counter[str] = Counter()
    depth = [0]

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            if spans(frame):
                depth[0] += 1
            if not depth[0]:
                return None
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return trace
        if event == "opcode":
            counts[_where(frame)] += 1
        elif event == "return" and spans(frame):
            depth[0] -= 1
        return trace

    sys.settrace(trace)
    try:
        runner.run()
    finally:
        sys.settrace(None)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixture", help="a bench fixture file, or a name under --fixtures/bench")
    parser.add_argument("-b", "--backend", default="llvm", help="an evmkiln backend")
    parser.add_argument("--fixtures", type=Path, default=os.environ.get("EVMKILN_FIXTURES"))
    parser.add_argument("--functions", type=int, default=30, help="show the costliest ones")
    parser.add_argument(
        "--transaction", action="store_true", help="count the whole apply_transaction"
    )
    args = parser.parse_args()
    try:
        fixture = resolve_fixture_path(args.fixture, args.fixtures)
    except typer.BadParameter as error:
        parser.error(error.format_message())
    counts = count_bytecodes(args.backend, fixture, transaction=args.transaction)
    unit = "transaction" if args.transaction else "message"
    print(f"{fixture.stem} on {args.backend}: {sum(counts.values()):,} bytecodes a {unit}")
    for where, count in counts.most_common(args.functions):
        print(f"{count:>9,}  {where}")


if __name__ == "__main__":
    main()
