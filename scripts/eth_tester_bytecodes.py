"""Count the Python bytecodes of one eth-tester request, per function, on evmkiln or stock.

eth-tester (and web3.py's tester provider over it) signs a transaction, applies
it and mines a block for it, then reads the block back; ``eth_call`` and gas
estimation run spoofed transactions on a block built for them.  This runs
one of those requests on ``EthereumTester(KilnBackend(...))`` or on stock
``EthereumTester(PyEVMBackend())``, against a contract that stores a word and
logs it, after warm-up requests, and prints the bytecodes it ran: in all,
and by function with what each function called (``--functions``).  Like
``scripts/block_bytecodes.py`` it counts what does not depend on the
machine; native code and C functions count nothing.

Usage (from the checkout)::

    uv run --frozen python scripts/eth_tester_bytecodes.py -b llvm [--request send|call|estimate] \
        [--runtime blocking|tiered]
    uv run --frozen python scripts/eth_tester_bytecodes.py -b pyevm ...   # stock py-evm

``--time N`` times N requests instead and prints the mean: a time, so compare
it only against a run beside it on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

WARM_UP_REQUESTS = 30
# SSTORE(0, CALLVALUE + 1); LOG1(0, 0, 0xaa); STOP, deployed by its 12 bytes' initcode.
RUNTIME = "346001015f5560aa5f5fa100"
INITCODE = "6b" + RUNTIME + "5f52600c6014f3"
REQUESTS = ("send", "call", "estimate")


def _tester(backend: str, runtime: str) -> Any:
    from eth_tester import EthereumTester, PyEVMBackend

    if backend == "pyevm":
        return EthereumTester(PyEVMBackend())
    from evmkiln.integrations.eth_tester import KilnBackend

    if runtime == "blocking":  # every code compiled before it first runs: the same counts
        return EthereumTester(KilnBackend(backend=backend, runtime=None))
    return EthereumTester(KilnBackend(backend=backend))


def request(backend: str, kind: str, runtime: str = "blocking") -> Callable[[], Any]:
    """A callable making one ``kind`` request on a fresh tester with the contract deployed.

    ``runtime``: ``blocking`` compiles the contract before it first runs;
    ``tiered`` is the integration's default, whose background compiles make
    the counts depend on when a compile ends.
    """
    tester = _tester(backend, runtime)
    sender = tester.get_accounts()[0]
    deployed = tester.send_transaction({"from": sender, "gas": 200_000, "data": "0x" + INITCODE})
    to = tester.get_transaction_receipt(deployed)["contract_address"]
    sent = [0]

    def send() -> Any:
        sent[0] += 1
        value = sent[0] % 3
        return tester.send_transaction({"from": sender, "to": to, "gas": 100_000, "value": value})

    call = {"from": sender, "to": to, "gas": 100_000, "value": 1}
    made: dict[str, Callable[[], Any]] = {
        "send": send,
        "call": lambda: tester.call(call),
        "estimate": lambda: tester.estimate_gas(call),
    }
    return made[kind]


def count_bytecodes(make: Callable[[], Any]) -> tuple[int, Counter[str]]:
    """The bytecodes of one ``make()`` after :data:`WARM_UP_REQUESTS`: in all, and per
    function with everything it called."""
    for _ in range(WARM_UP_REQUESTS):
        make()
    total = 0
    inclusive: Counter[str] = Counter()
    stack: list[str] = []

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal total
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            code = frame.f_code
            path = code.co_filename.split("/src/")[-1].split("site-packages/")[-1]
            stack.append(f"{path}:{code.co_name}")
        elif event == "opcode":
            total += 1
            for where in set(stack):
                inclusive[where] += 1
        elif event == "return" and stack:
            stack.pop()
        return trace

    sys.settrace(trace)
    try:
        make()
    finally:
        sys.settrace(None)
    return total, inclusive


def time_requests(make: Callable[[], Any], requests: int) -> float:
    """The mean seconds of a request, over ``requests`` after :data:`WARM_UP_REQUESTS`."""
    for _ in range(WARM_UP_REQUESTS):
        make()
    started = time.perf_counter()
    for _ in range(requests):
        make()
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-b", "--backend", default="llvm", help="an evmkiln backend, or pyevm")
    parser.add_argument("--request", choices=REQUESTS, default="send")
    parser.add_argument("--runtime", choices=("blocking", "tiered"), default="blocking")
    parser.add_argument("--functions", type=int, default=30, help="show the costliest ones")
    parser.add_argument("--time", type=int, default=0, metavar="N", help="time, not count")
    args = parser.parse_args()
    if args.time < 0 or args.functions < 0:
        parser.error("counts are not negative")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make = request(args.backend, args.request, args.runtime)
        if args.time:
            mean = time_requests(make, args.time) * 1e6
            print(f"{args.backend}, {args.request}: {mean:,.0f} us a request (mean of {args.time})")
            return
        total, inclusive = count_bytecodes(make)
    print(f"{args.backend}, {args.request}: {total:,} bytecodes a request")
    for where, count in inclusive.most_common(args.functions):
        print(f"{count:>9,}  {where}")


if __name__ == "__main__":
    main()
