"""The stream: which contract each transaction calls, and how transactions fill blocks.

Distribution.  Contracts are ranked, hottest first: the bench fixtures'
contracts (real tokens, WETH, a DEX pair, proxies: what a chain calls most),
shuffled by the seed, then the state tests' contracts in their seeded
discovery order.  Each transaction picks rank *k* (1-based) with probability
proportional to ``1 / k**zipf`` (Zipf's law, as contract popularity on
mainnet roughly follows), and one of that contract's calls uniformly.  With
the defaults (300 contracts, 3,000 transactions, exponent 1.1) the hottest
contract gets about 700 transactions, the tenth about 55, and most of the
tail one or none: a few contracts called many times, most called a few.
Everything is drawn from one ``random.Random(seed)``: the same arguments give
the same stream.

Blocks.  Transactions fill blocks in stream order while the sum of their gas
limits stays within half the block gas limit (the EIP-1559 target), so the
base fee never rises and one fixed gas price pays for every transaction.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from evmkiln.workload.contracts import bench_contracts, state_test_contracts
from evmkiln.workload.spec import Contract, GenesisAccount, WorkloadSpec

DEFAULT_CONTRACTS = 300
DEFAULT_TRANSACTIONS = 3_000
DEFAULT_ZIPF = 1.1
DEFAULT_MAX_TX_GAS = 1_000_000
"""Per-transaction gas cap: mainnet transactions rarely use more."""
BLOCK_GAS_LIMIT = 30_000_000
GAS_PRICE = 10**10
"""10 gwei, legacy transactions; the genesis base fee is 1 gwei and never rises."""


def draw(count: int, transactions: int, zipf: float, rng: random.Random) -> list[int]:
    """``transactions`` ranks (0-based) out of ``count``, Zipf-distributed (exponent ``zipf``)."""
    weights = [1.0 / (rank**zipf) for rank in range(1, count + 1)]
    cumulative = list(itertools.accumulate(weights))
    return rng.choices(range(count), cum_weights=cumulative, k=transactions)


def pack_blocks(gas_limits: list[int], block_gas_limit: int) -> list[int]:
    """Transactions per block: fill in order while the gas limits fit half the block's."""
    target = block_gas_limit // 2
    blocks: list[int] = []
    used = 0
    for gas in gas_limits:
        if blocks and used + gas <= target:
            blocks[-1] += 1
            used += gas
        else:
            blocks.append(1)
            used = gas
    return blocks


def rank(bench: list[Contract], state_tests: list[Contract], seed: int) -> list[Contract]:
    """Contracts hottest first: the bench ones shuffled by ``seed``, then the state tests'."""
    ordered = list(bench)
    random.Random(seed).shuffle(ordered)
    return ordered + state_tests


def build_spec(
    fixtures: Path,
    *,
    contracts: int = DEFAULT_CONTRACTS,
    transactions: int = DEFAULT_TRANSACTIONS,
    seed: int = 1,
    zipf: float = DEFAULT_ZIPF,
    max_tx_gas: int = DEFAULT_MAX_TX_GAS,
    bench: bool = True,
    block_gas_limit: int = BLOCK_GAS_LIMIT,
) -> WorkloadSpec:
    """The workload over the fixtures under ``fixtures`` (``bench/``, ``statetests/...``).

    ``bench=False`` leaves the bench contracts out (every contract then
    comes from the state tests).
    """
    if contracts < 1 or transactions < 1:
        raise ValueError("a workload needs at least one contract and one transaction")
    if max_tx_gas > block_gas_limit // 2:
        raise ValueError("max_tx_gas must fit half a block")
    hot = bench_contracts(fixtures / "bench", max_tx_gas) if bench else []
    hot = hot[:contracts]
    taken: dict[bytes, GenesisAccount] = {a.address: a for c in hot for a in c.accounts}
    tail = state_test_contracts(
        fixtures / "statetests" / "GeneralStateTests",
        contracts - len(hot),
        seed=seed,
        max_tx_gas=max_tx_gas,
        taken=taken,
    )
    ranked = rank(hot, tail, seed)
    if not ranked:
        raise ValueError(f"no contracts found under {fixtures}")
    rng = random.Random(seed)
    stream = []
    for index in draw(len(ranked), transactions, zipf, rng):
        stream.append((index, rng.randrange(len(ranked[index].calls))))
    gas = [ranked[c].calls[k].gas for c, k in stream]
    return WorkloadSpec(
        contracts=tuple(ranked),
        transactions=tuple(stream),
        blocks=tuple(pack_blocks(gas, block_gas_limit)),
        seed=seed,
        zipf=zipf,
        block_gas_limit=block_gas_limit,
        gas_price=GAS_PRICE,
        description={
            "fixtures": str(fixtures),
            "requested_contracts": contracts,
            "bench_contracts": len(hot),
            "state_test_contracts": len(tail),
            "max_tx_gas": max_tx_gas,
        },
    )
