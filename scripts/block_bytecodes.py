"""Count the Python bytecodes of mining blocks of small transactions, per function.

A message is a small part of a transaction on a chain: py-evm also builds,
roots, validates and persists the block around it, and eth-tester mines a
block for every transaction.  This mines blocks on a ``MiningChain`` of a
VM class (evmkiln's under a backend, or stock py-evm's) with transactions
that each store a word and log it, then traces one more block with
``sys.settrace`` opcode events and prints the bytecodes by function.  Like
``scripts/message_bytecodes.py`` it counts what does not depend on the
machine; native code and C functions count nothing.

Two shapes, both py-evm's own API:

* ``--per-block N`` (default 1): ``apply_transaction`` N times, then
  ``mine_block``, as eth-tester does with N = 1;
* ``--mine-all N``: one ``mine_all`` of N transactions, as a block importer
  or the workload benchmark does.

Usage (from the checkout)::

    uv run --frozen python scripts/block_bytecodes.py -b llvm [--per-block 1 | --mine-all 16]
    uv run --frozen python scripts/block_bytecodes.py -b pyevm ...   # stock py-evm

``--time BLOCKS`` times that many blocks instead (after the same warm-up)
and prints the median per block: a time, so compare it only against a run
beside it on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections import Counter
from types import FrameType
from typing import Any

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth_keys import keys

WARM_UP_BLOCKS = 20
KEY = keys.PrivateKey(b"\x07" * 32)
SENDER = KEY.public_key.to_canonical_address()
CONTRACT = (0xA1).to_bytes(20, "big")
# SSTORE(0, CALLVALUE + 1); LOG1(0, 0, 0xaa); STOP
CODE = bytes.fromhex("346001015f5560aa5f5fa100")
GENESIS: dict[str, Any] = {  # the fields py-evm has no default for, and a base fee
    "difficulty": 0,
    "gas_limit": 30_000_000,
    "timestamp": 1_700_000_000,
    "extra_data": b"",
    "nonce": b"\x00" * 8,
    "base_fee_per_gas": 7,
}


def _chain(vm_class: Any) -> Any:
    chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=1)
    state = {
        SENDER: {"balance": 10**21, "nonce": 0, "code": b"", "storage": {}},
        CONTRACT: {"balance": 0, "nonce": 1, "code": CODE, "storage": {}},
    }
    return chain_class.from_genesis(AtomicDB(), GENESIS, state)


class _Stream:
    """Signed transactions to the contract, one nonce after another."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain
        self.nonce = 0

    def next(self) -> Any:
        builder = self.chain.get_vm().get_transaction_builder()
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            chain_id=1,
            nonce=self.nonce,
            max_priority_fee_per_gas=1,
            max_fee_per_gas=1000,
            gas=100_000,
            to=CONTRACT,
            value=self.nonce % 3,
            data=b"",
            access_list=(),
        )
        self.nonce += 1
        return unsigned.as_signed_transaction(KEY)


def _block(stream: _Stream, per_block: int, mine_all: int) -> Any:
    """A callable mining the next block (its transactions signed beforehand)."""
    chain = stream.chain
    if mine_all:
        transactions = [stream.next() for _ in range(mine_all)]
        return lambda: chain.mine_all(transactions)
    transactions = [stream.next() for _ in range(per_block)]

    def mine() -> None:
        for transaction in transactions:
            chain.apply_transaction(transaction)
        chain.mine_block(mix_hash=b"\x01" * 32)

    return mine


def count_bytecodes(vm_class: Any, per_block: int, mine_all: int) -> Counter[str]:
    """Bytecodes of mining one block after :data:`WARM_UP_BLOCKS`, by function."""
    stream = _Stream(_chain(vm_class))
    for _ in range(WARM_UP_BLOCKS):
        _block(stream, per_block, mine_all)()
    mine = _block(stream, per_block, mine_all)
    counts: Counter[str] = Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            code = frame.f_code
            path = code.co_filename.split("/src/")[-1].split("site-packages/")[-1]
            counts[f"{path}:{code.co_name}"] += 1
        return trace

    sys.settrace(trace)
    try:
        mine()
    finally:
        sys.settrace(None)
    return counts


def time_blocks(vm_class: Any, per_block: int, mine_all: int, blocks: int) -> float:
    """The median seconds of mining a block, over ``blocks`` after :data:`WARM_UP_BLOCKS`."""
    stream = _Stream(_chain(vm_class))
    for _ in range(WARM_UP_BLOCKS):
        _block(stream, per_block, mine_all)()
    seconds = []
    for _ in range(blocks):
        mine = _block(stream, per_block, mine_all)
        started = time.perf_counter()
        mine()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-b", "--backend", default="llvm", help="an evmkiln backend, or pyevm")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--per-block", type=int, default=1, help="apply_transaction N, mine_block")
    shape.add_argument("--mine-all", type=int, default=0, help="mine_all of N transactions")
    parser.add_argument("--functions", type=int, default=30, help="show the costliest ones")
    parser.add_argument("--time", type=int, default=0, metavar="BLOCKS", help="time, not count")
    args = parser.parse_args()
    if args.per_block < 1 or args.mine_all < 0 or args.time < 0:
        parser.error("a block needs at least one transaction, and a count is not negative")
    if args.backend == "pyevm":
        vm_class: Any = CancunVM
    else:
        from evmkiln.context import make_vm_class

        vm_class = make_vm_class(args.backend, fork="cancun")
    size = args.mine_all or args.per_block
    shape_name = "mine_all" if args.mine_all else "apply_transaction + mine_block"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.time:
            median = time_blocks(vm_class, args.per_block, args.mine_all, args.time)
            print(
                f"{args.backend}, {shape_name}, {size} transaction(s): "
                f"{median * 1e6:,.0f} us a block (median of {args.time})"
            )
            return
        counts = count_bytecodes(vm_class, args.per_block, args.mine_all)
    total = sum(counts.values())
    print(
        f"{args.backend}, {shape_name}, {size} transaction(s): {total:,} bytecodes a block, "
        f"{total // size:,} a transaction"
    )
    for where, count in counts.most_common(args.functions):
        print(f"{count:>9,}  {where}")


if __name__ == "__main__":
    main()
