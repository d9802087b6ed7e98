"""Cold and warm processes over the bench fixtures: what the persistent code cache saves.

Runs every bench fixture's transaction (``fixtures/bench/*.json``) in a new
process with an empty code cache (``cold``: every contract reached is JIT
compiled, then written to the cache in the background, waited for), then
again in a second new process on the same directory (``warm``: loaded).
Each lookup of the warm process is timed, so the report shows the load time
per contract (median, max) next to the cold process's compile counts; every
warm output and gas figure is checked against the cold one.

    uv run --frozen python scripts/code_cache_bench.py --backend llvm --backend wasm

``--dir`` keeps the cache somewhere (default: a temporary directory, removed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = """
import json, sys, time
from pathlib import Path
from evmkiln.context import make_vm_class
from evmkiln.deep_stack import on_deep_stack
from evmkiln.fixtures.loading import load_bench_file
from evmkiln.statetest.execution import apply_transaction

backend, directory, bench_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
vm_class = make_vm_class(backend, persistent_cache=True, code_cache_dir=directory)
disk = vm_class.disk_cache
loads = []
lookup = disk.lookup

def timed_lookup(code):
    start = time.perf_counter()
    found = lookup(code)
    if found is not None:
        loads.append(time.perf_counter() - start)
    return found

disk.lookup = timed_lookup
vm_class.code_cache.persistent = disk
results = {}
start = time.perf_counter()
for path in sorted(bench_dir.glob("*.json")):
    try:
        test = load_bench_file(path).fixture
    except Exception:
        continue
    t0 = time.perf_counter()
    outcome = on_deep_stack(
        lambda: apply_transaction(vm_class, test.env, test.pre, test.tx.to_spec())
    )
    results[path.stem] = {
        "seconds": time.perf_counter() - t0,
        "gas_used": outcome.gas_used,
        "output": outcome.output.hex(),
    }
ran = time.perf_counter() - start
t0 = time.perf_counter()
disk.flush()
stats = vm_class.stats
print(json.dumps({
    "run_seconds": ran,
    "write_wait_seconds": time.perf_counter() - t0,
    "compiled": stats.frames_compiled,
    "loaded": stats.cache_loaded,
    "stored": stats.cache_stored,
    "rejected": stats.cache_rejected,
    "store_failures": stats.cache_store_failures,
    "loads": loads,
    "fixtures": results,
}))
"""


def _child(backend: str, directory: Path, bench: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, backend, str(directory), str(bench)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{backend} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=("llvm", "wasm"))
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from evmkiln.bench.machine import machine_info

    bench = args.fixtures / "bench"
    report: dict[str, Any] = {"machine": machine_info(), "backends": {}}
    with tempfile.TemporaryDirectory(prefix="evmkiln-cache-bench-") as tmp:
        root = args.dir if args.dir is not None else Path(tmp)
        for backend in args.backend or ["llvm", "wasm"]:
            t0 = time.perf_counter()
            cold = _child(backend, root, bench)
            cold_wall = time.perf_counter() - t0
            t0 = time.perf_counter()
            warm = _child(backend, root, bench)
            warm_wall = time.perf_counter() - t0
            for name, result in warm["fixtures"].items():
                expected = cold["fixtures"][name]
                same = (result["gas_used"], result["output"]) == (
                    expected["gas_used"],
                    expected["output"],
                )
                if not same:
                    raise SystemExit(f"{backend} {name}: warm result differs from cold")
            loads = warm["loads"]
            report["backends"][backend] = {
                "cold": {k: v for k, v in cold.items() if k not in ("loads", "fixtures")},
                "warm": {k: v for k, v in warm.items() if k not in ("loads", "fixtures")},
                "cold_process_seconds": cold_wall,
                "warm_process_seconds": warm_wall,
                "load_ms_median": 1000 * statistics.median(loads) if loads else None,
                "load_ms_max": 1000 * max(loads) if loads else None,
                "load_ms_max_after_first": 1000 * max(loads[1:]) if len(loads) > 1 else None,
                "load_ms_total": 1000 * sum(loads),
            }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(json.dumps(report["machine"]))
    for backend, r in report["backends"].items():
        cold, warm = r["cold"], r["warm"]
        print(
            f"{backend}: cold process {r['cold_process_seconds']:.1f} s "
            f"(transactions {cold['run_seconds']:.2f} s, {cold['compiled']} compiled, "
            f"then {cold['write_wait_seconds']:.1f} s waiting for {cold['stored']} writes); "
            f"warm process {r['warm_process_seconds']:.1f} s "
            f"(transactions {warm['run_seconds']:.2f} s, {warm['compiled']} compiled, "
            f"{warm['loaded']} loaded, {warm['rejected']} refused); "
            f"load per contract median {r['load_ms_median']:.3f} ms, "
            f"max {r['load_ms_max']:.3f} ms "
            f"(after the first: {r['load_ms_max_after_first']:.3f} ms)"
        )


if __name__ == "__main__":
    main()
