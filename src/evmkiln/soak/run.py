"""A long run over many contracts, watching resident memory.

What a long-lived process keeps between transactions is evmkiln's: the code
cache and the compiled code it holds, the backends' run-state pools and
storage tables, the compiler process.  The soak run makes those the only
things that can grow: every transaction runs on a fresh state over the same
genesis state (as a node that never persists; the database does not grow),
so a rising resident set between checkpoints is a leak or an unbounded cache
of ours.  Contracts are drawn so that a few are hot and most are seen rarely
(index ``count * u**3`` for uniform ``u``), with ``--cache-size`` below the
number of contracts to make eviction part of the run.

Every ``check_every``-th transaction also runs on stock py-evm; any
difference in status, gas, output, logs or state root is reported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evmkiln.process_memory import process_rss_bytes
from evmkiln.soak.contracts import FAMILIES, contract_address, contract_code

CALLDATA_VARIANTS = 8
"""Distinct calldata per contract (signed transactions are made once each and reused)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    transactions: int
    seconds: float
    rss_bytes: int
    compiler_rss_bytes: int | None
    cached_codes: int
    codes_compiled: int


@dataclass(slots=True)
class SoakResult:
    backend: str
    contracts: int
    transactions: int
    cache_size: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    compile_failures: int = 0

    @property
    def growth_bytes(self) -> int:
        """Resident growth from the first quarter's checkpoint to the last one."""
        if len(self.checkpoints) < 2:
            return 0
        settled = self.checkpoints[max(0, len(self.checkpoints) // 4 - 1)]
        return self.checkpoints[-1].rss_bytes - settled.rss_bytes


@dataclass(frozen=True, slots=True)
class Observed:
    success: bool
    gas_used: int
    output: bytes
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    state_root: bytes


class _World:
    """A chain whose genesis holds every contract; each transaction gets a fresh VM on it."""

    def __init__(self, vm_class: type[Any], count: int) -> None:
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth_keys import keys  # type: ignore[attr-defined]

        self.key = keys.PrivateKey(b"\x01" * 32)
        sender = self.key.public_key.to_canonical_address()
        state: Any = {sender: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}}
        for index in range(count):
            state[contract_address(index)] = {
                "balance": 0,
                "nonce": 1,
                "code": contract_code(index, count),
                "storage": {},
            }
        genesis: dict[str, Any] = {
            "difficulty": 0,
            "gas_limit": 30_000_000,
            "timestamp": 1_700_000_000,
            "coinbase": b"\xc0" * 20,
            "extra_data": b"",
            "nonce": b"\x00" * 8,
            "mix_hash": b"\x11" * 32,
        }
        chain_class = MiningChain.configure(
            __name__="SoakChain", vm_configuration=((0, vm_class),), chain_id=1
        )
        self.chain = chain_class.from_genesis(AtomicDB(), genesis, state)
        self._transactions: dict[tuple[int, int], Any] = {}

    def transaction(self, index: int, variant: int) -> Any:
        key = (index, variant)
        tx = self._transactions.get(key)
        if tx is None:
            data = (variant * 7 + index).to_bytes(32, "big") + (index ^ 0xABCDEF).to_bytes(
                32, "big"
            )
            vm = self.chain.get_vm()
            to: Any = contract_address(index)
            unsigned = vm.create_unsigned_transaction(
                nonce=0, gas_price=10**9, gas=1_000_000, to=to, value=0, data=data
            )
            tx = unsigned.as_signed_transaction(self.key)
            self._transactions[key] = tx
        return tx

    def apply(self, tx: Any, observe: bool) -> Observed | None:
        vm = self.chain.get_vm()
        receipt, computation = vm.apply_transaction(vm.get_header(), tx)
        if not observe:
            return None
        return Observed(
            success=bool(computation.is_success),
            gas_used=int(receipt.gas_used),
            output=bytes(computation.output),
            logs=tuple((bytes(a), tuple(t), bytes(d)) for a, t, d in computation.get_log_entries()),
            state_root=bytes(vm.state.make_state_root()),
        )


def soak(
    backend: str,
    *,
    contracts: int,
    transactions: int,
    cache_size: int,
    checkpoints: int = 20,
    check_every: int = 1000,
    seed: int = 1,
    compiler_pid: Callable[[Any], int | None] | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> SoakResult:
    """Run ``transactions`` transactions over ``contracts`` contracts on ``backend``."""
    from eth.vm.forks.cancun import CancunVM

    from evmkiln.context import get_backend, make_vm_class

    if contracts < len(FAMILIES) or transactions < 1 or checkpoints < 1:
        raise ValueError(f"a soak run needs at least {len(FAMILIES)} contracts and 1 transaction")
    backend_obj = get_backend(backend)
    # No persistent cache: the soak measures compiles and the in-memory cache's eviction.
    vm_class = make_vm_class(
        backend_obj, cache_size=cache_size, persistent_cache=False, fork="cancun"
    )
    world = _World(vm_class, contracts)
    reference = _World(CancunVM, contracts)
    result = SoakResult(backend, contracts, transactions, cache_size)
    rng = random.Random(seed)
    every = max(1, transactions // checkpoints)
    start = time.perf_counter()
    for n in range(1, transactions + 1):
        index = min(contracts - 1, int(contracts * rng.random() ** 3))
        variant = rng.randrange(CALLDATA_VARIANTS)
        check = n % check_every == 0
        got = world.apply(world.transaction(index, variant), observe=check)
        if check:
            result.checked += 1
            expected = reference.apply(reference.transaction(index, variant), observe=True)
            if got != expected:
                result.mismatches.append(
                    f"transaction {n} to contract {index}: {got} != {expected}"
                )
        if n % every == 0 or n == transactions:
            pid = compiler_pid(backend_obj) if compiler_pid is not None else None
            point = Checkpoint(
                transactions=n,
                seconds=time.perf_counter() - start,
                rss_bytes=process_rss_bytes(),
                compiler_rss_bytes=process_rss_bytes(pid) if pid is not None else None,
                cached_codes=len(vm_class.code_cache),  # type: ignore[attr-defined]
                codes_compiled=vm_class.stats.frames_compiled,  # type: ignore[attr-defined]
            )
            result.checkpoints.append(point)
            if on_checkpoint is not None:
                on_checkpoint(point)
    result.compile_failures = vm_class.stats.compile_failures  # type: ignore[attr-defined]
    return result
