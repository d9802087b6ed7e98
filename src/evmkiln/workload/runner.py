"""One configuration running the whole stream, in this (fresh) process.

``python -m evmkiln.workload.runner SPEC CONFIG OUT [--cache-dir DIR]`` is
what the driver starts once per configuration.  In order, each timed apart:

1. **setup**: import py-evm (and evmkiln's backends, for evmkiln
   configurations), make the VM class, write the genesis state, sign the
   transactions.  The same for every configuration but the imports.
2. **stream**: every block mined with ``MiningChain.mine_all`` (py-evm's
   block builder: transactions applied, receipts, state root, the block
   persisted).  Its wall time is the workload's headline.  Within it, the
   **EVM** time is the transaction executor's ``build_computation`` summed
   over transactions: the message and every nested frame, compiles in the
   caller's thread included (what a backend can change); the rest is
   py-evm's bookkeeping, the same for all.  The CPU time of this process
   over the stream is recorded too: a stream whose wall time is well above
   its CPU time was waiting for a core (background compiles on a busy
   machine), not working.

Each transaction's outcome (success, gas used, output, logs, error class)
and each block's state root are written to ``OUT`` with the timings and the
runtime's counters; the driver compares them with stock py-evm's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evmkiln.bench.execution_clock import with_execution_clock
from evmkiln.workload.spec import BENCH_SENDER, STATE_TEST_KEY, STATE_TEST_SENDER, WorkloadSpec

_STARTED = time.perf_counter()

RESULT_SCHEMA = "evmkiln-workload-run/1"
SENDER_BALANCE = 10**30
GENESIS_BASE_FEE = 10**9
GENESIS_TIMESTAMP = 1_700_000_000
BLOCK_SECONDS = 12


def _chain(spec: WorkloadSpec, vm_class: type[Any]) -> Any:
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB

    state: Any = {
        address: {
            "balance": a.balance,
            "nonce": a.nonce,
            "code": a.code,
            "storage": dict(a.storage),
        }
        for address, a in spec.genesis().items()
    }
    for sender in (STATE_TEST_SENDER, BENCH_SENDER):
        state[sender] = {"balance": SENDER_BALANCE, "nonce": 0, "code": b"", "storage": {}}
    genesis: dict[str, Any] = {
        "difficulty": 0,
        "gas_limit": spec.block_gas_limit,
        "timestamp": GENESIS_TIMESTAMP,
        "coinbase": bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba"),
        "extra_data": b"",
        "nonce": b"\x00" * 8,
        "mix_hash": b"\x11" * 32,
        "base_fee_per_gas": GENESIS_BASE_FEE,
    }
    chain_class = MiningChain.configure(
        __name__="WorkloadChain", vm_configuration=((0, vm_class),), chain_id=1
    )
    return chain_class.from_genesis(AtomicDB(), genesis, state)


def _transactions(spec: WorkloadSpec, vm_class: type[Any]) -> list[Any]:
    """The stream's signed transactions, nonces counted per sender."""
    from eth.vm.spoof import SpoofTransaction
    from eth_keys.datatypes import PrivateKey

    builder = vm_class.get_transaction_builder()
    key = PrivateKey(STATE_TEST_KEY)
    nonces = {"keyed": 0, "spoofed": 0}
    signed = []
    for contract_index, call_index in spec.transactions:
        call = spec.contracts[contract_index].calls[call_index]
        nonce = nonces[call.sender]
        nonces[call.sender] = nonce + 1
        unsigned = builder.create_unsigned_transaction(
            nonce=nonce,
            gas_price=spec.gas_price,
            gas=call.gas,
            to=call.to if call.to is not None else b"",
            value=call.value,
            data=call.data,
        )
        tx = unsigned.as_signed_transaction(key)
        if call.sender == "spoofed":
            tx = SpoofTransaction(tx, sender=BENCH_SENDER, get_sender=lambda: BENCH_SENDER)
        signed.append(tx)
    return signed


def _outcome(receipt: Any, computation: Any, gas_used: int) -> dict[str, Any]:
    error = "" if computation.is_success else type(computation.error).__name__
    return {
        "success": bool(computation.is_success),
        "gas": gas_used,
        "output": bytes(computation.output).hex(),
        "logs": [
            [bytes(address).hex(), [hex(t) for t in topics], bytes(data).hex()]
            for address, topics, data in computation.get_log_entries()
        ],
        "error": error,
    }


FILL_WAIT_SECONDS = 600.0
"""How long a run waits, untimed, for its compiles and cache writes to finish."""


def _disk_caches(vm_class: type[Any]) -> list[Any]:
    """The VM class's persistent code caches, each once: a tiered runtime's, one per
    tier (the top one is also ``disk_cache``), or the blocking cache's."""
    tiers = getattr(getattr(vm_class, "code_cache", None), "persistent", None)
    caches = [*(tiers if isinstance(tiers, tuple) else ()), getattr(vm_class, "disk_cache", None)]
    return list({id(c): c for c in caches if c is not None}.values())


def _counters(vm_class: type[Any]) -> dict[str, Any]:
    stats = getattr(vm_class, "stats", None)
    if stats is None:
        return {}
    counters: dict[str, Any] = {
        "codes_compiled": stats.frames_compiled,
        "frames_run_compiled": stats.frames_run_compiled,
        "frames_interpreted": stats.frames_interpreted,
        "frames_without_code": stats.frames_without_code,
        "compile_failures": stats.compile_failures,
        "compile_refusals": stats.compile_refusals,
    }
    for name in ("cache_loaded", "cache_rejected", "aot_loaded"):
        if hasattr(stats, name):
            counters[name] = getattr(stats, name)
    cache = getattr(vm_class, "code_cache", None)
    disks = _disk_caches(vm_class)
    if disks:
        counters["cache_load_seconds"] = sum(getattr(d, "load_seconds", 0.0) for d in disks)
    snapshot = getattr(cache, "snapshot", None)
    if callable(snapshot):
        counters["runtime"] = dataclasses.asdict(snapshot())
    return counters


def _time_blocking_compiles() -> Callable[[], float]:
    """Time blocking mode's compiles (``CodeCache.compile_code``, in the caller's thread)."""
    from evmkiln.context.code_cache import CodeCache

    seconds = [0.0]
    original = CodeCache.compile_code

    def timed(self: CodeCache, code: bytes) -> Any:
        start = time.perf_counter()
        try:
            return original(self, code)
        finally:
            seconds[0] += time.perf_counter() - start

    CodeCache.compile_code = timed  # type: ignore[method-assign]
    return lambda: seconds[0]


def _close_and_measure_children(vm_class: type[Any]) -> float:
    """CPU seconds of this process's ended children: the compiler processes, once closed.

    A tiered runtime's compiles run in compiler processes; closing the cache
    (what exit would do) ends them, and their CPU time becomes readable.
    Blocking mode compiles in a compiler process too (llvm), kept by the
    backend; it is counted when the backend exposes it (``compiler``).
    """
    import resource

    cache = getattr(vm_class, "code_cache", None)
    close = getattr(cache, "close", None)
    if callable(close):
        close()
    compiler = getattr(getattr(vm_class, "backend", None), "compiler", None)
    shutdown = getattr(compiler, "close", None)
    if callable(shutdown):
        shutdown()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(usage.ru_utime + usage.ru_stime)


def run(spec_path: Path, config_name: str, cache_dir: Path | None) -> dict[str, Any]:
    """Run the stream of ``spec_path`` on configuration ``config_name``; the result as JSON data."""
    from evmkiln.workload.configurations import CONFIGURATIONS, make_configuration_vm

    config = CONFIGURATIONS[config_name]
    spec = WorkloadSpec.read(spec_path)
    compile_seconds: Callable[[], float] | None = None
    if config.backend is not None and config.runtime is None:
        compile_seconds = _time_blocking_compiles()
    base_vm = make_configuration_vm(config, cache_dir)
    vm_class, clock = with_execution_clock(base_vm, keep_each=True)
    chain = _chain(spec, vm_class)
    transactions = _transactions(spec, vm_class)
    setup_done = time.perf_counter()
    cpu_start = time.process_time()

    outcomes: list[dict[str, Any]] = []
    roots: list[str] = []
    position = 0
    for size in spec.blocks:
        block = transactions[position : position + size]
        position += size
        # Fixed gas limit and timestamps: py-evm would drift the one and take the
        # other from the wall clock, and TIMESTAMP would differ between processes.
        fields = {
            "gas_limit": spec.block_gas_limit,
            "timestamp": GENESIS_TIMESTAMP + BLOCK_SECONDS * chain.header.block_number,
        }
        chain.header = chain.header.copy(**fields)
        result, receipts, computations = chain.mine_all(block, **fields)
        cumulative = 0
        for receipt, computation in zip(receipts, computations, strict=True):
            outcomes.append(_outcome(receipt, computation, receipt.gas_used - cumulative))
            cumulative = receipt.gas_used
        roots.append(bytes(result.imported_block.header.state_root).hex())
    stream_done = time.perf_counter()
    stream_cpu = time.process_time() - cpu_start

    counters = _counters(base_vm)
    # A persistent code cache writes in the background; finish (untimed) so that
    # the run that fills it leaves every entry for the warm runs after it: the
    # compiles still under way first (a tiered runtime stores what they make),
    # then every tier's writes.
    disk_cache = getattr(base_vm, "disk_cache", None)
    if disk_cache is not None:
        code_cache = getattr(base_vm, "code_cache", None)
        wait_idle = getattr(code_cache, "wait_idle", None)
        if callable(wait_idle):
            wait_idle(FILL_WAIT_SECONDS)
        for cache in _disk_caches(base_vm):
            cache.flush(FILL_WAIT_SECONDS)
    children_cpu = _close_and_measure_children(base_vm)
    if compile_seconds is not None:
        counters["compile_seconds"] = compile_seconds()
    return {
        "schema": RESULT_SCHEMA,
        "configuration": config.name,
        "setup_seconds": setup_done - _STARTED,
        "stream_seconds": stream_done - setup_done,
        "evm_seconds": clock.total,
        "stream_cpu_seconds": stream_cpu,
        "compiler_cpu_seconds": children_cpu,
        "evm_seconds_each": clock.each or [],
        "transactions": len(outcomes),
        "blocks": len(roots),
        "outcomes": outcomes,
        "state_roots": roots,
        "counters": counters,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("configuration")
    parser.add_argument("out", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    from evmkiln.deep_stack import on_deep_stack

    result = on_deep_stack(lambda: run(args.spec, args.configuration, args.cache_dir))
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
