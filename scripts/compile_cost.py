"""What compiling a code costs, phase by phase, per backend: time, CPU and peak memory.

Each (code, backend) pair is compiled in a child process of its own, under
an address-space limit and a timeout, so that a runaway compile is killed
rather than the machine; the child reports each phase's seconds, its peak
resident memory (``ru_maxrss``) and, if the compile budget refused the code,
which limit.  Codes are the crafted shapes of :mod:`evmkiln.bench.hostile_codes`
and the largest contract of each bench fixture.

    uv run --frozen python scripts/compile_cost.py --size 24576 --backend llvm
    uv run --frozen python scripts/compile_cost.py --shape jumpdests --size 61440
    uv run --frozen python scripts/compile_cost.py --bench --backend wasm

``--llvm-pipeline cheap`` runs only SROA, InstCombine and SimplifyCFG on
functions the fast code generator compiles, as the size-dependent pipeline
proposed for ``jit.parse`` would (NewGVN is quadratic in some shapes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BACKENDS = ("ir", "wasm", "llvm")
DEFAULT_MEMORY_GIB = 8.0
DEFAULT_TIMEOUT = 300.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(backend: str, code_file: str, llvm_pipeline: str) -> dict[str, Any]:
    """Compile one code in this process, phase by phase; the report as a dict."""
    from evmkiln.codegen.backend import CompileOptions
    from evmkiln.codegen.budget import CompileRefused, IrSize
    from evmkiln.codegen.pipeline import lower_bytecode

    code = bytes.fromhex(Path(code_file).read_text().strip())
    report: dict[str, Any] = {"bytes": len(code), "phases": {}}
    phases: dict[str, float] = report["phases"]

    def phase(name: str, step: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return step()
        finally:
            phases[name] = round(time.perf_counter() - start, 3)

    options = CompileOptions()
    try:
        function = phase("lower", lambda: lower_bytecode(code))
        size = IrSize.of(function)
        report["ir"] = {
            "instructions": size.instructions,
            "blocks": size.blocks,
            "edge_values": size.edge_values,
            "jump_table": size.jump_table,
        }
        if backend == "ir":
            from evmkiln.codegen.reference import ReferenceBackend

            phase("compile", lambda: ReferenceBackend().compile(function, options))
        elif backend == "wasm":
            _wasm_phases(function, options, phase)
        else:
            _llvm_phases(function, options, phase, llvm_pipeline)
    except CompileRefused as refusal:
        report["refused"] = str(refusal)
    report["seconds"] = round(sum(phases.values()), 3)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
    report["peak_mib"] = round(_peak_mib())
    return report


Phase = Callable[[str, Callable[[], Any]], Any]
"""Runs one named phase and records its seconds."""


def _wasm_phases(function: Any, options: Any, phase: Phase) -> None:
    from evmkiln.backend_wasm.backend import FAST_TIER_INSTS
    from evmkiln.backend_wasm.encoding import encode_module
    from evmkiln.backend_wasm.runtime import CompiledContract
    from evmkiln.backend_wasm.translate import translate

    fast = function.instruction_count() >= FAST_TIER_INSTS
    translation = phase(
        "translate",
        lambda: translate(
            function,
            gas_metering=options.gas_metering,
            shared_exits=fast,
            inline_words=not fast,
        ),
    )
    wasm = phase("encode", lambda: encode_module(translation.module))
    phase("wasmtime", lambda: CompiledContract(wasm, translation.memory_base, fast=fast))


def _llvm_phases(function: Any, options: Any, phase: Phase, pipeline: str) -> None:
    import llvmlite.binding as llvm

    from evmkiln.backend_llvm import jit
    from evmkiln.backend_llvm.backend import instruction_count
    from evmkiln.backend_llvm.translate import translate

    text = phase("translate", lambda: translate(function, options))
    size = instruction_count(function)
    codegen = jit.codegen_level(options.opt_level, size)
    if pipeline == "cheap" and codegen < jit.codegen_level(options.opt_level, 0):
        machine = jit.target_machine(0)

        def parse() -> Any:
            module = llvm.parse_assembly(text)
            module.triple = machine.triple
            module.data_layout = str(machine.target_data)
            module.verify()
            return module

        def optimise() -> None:
            tuning = llvm.create_pipeline_tuning_options(speed_level=1)
            builder = llvm.create_pass_builder(machine, tuning)
            manager = llvm.create_new_module_pass_manager()
            for name in jit.PIPELINES[1] or ():
                getattr(manager, f"add_{name}_pass")()
            manager.run(module, builder)

        module = phase("llvm_parse", parse)
        phase("llvm_opt", optimise)
    else:
        module = phase("llvm_parse_opt", lambda: jit.parse(text, options.opt_level))
    phase("llvm_codegen", lambda: jit.compile_module(module, function.name, codegen))


def _limit_memory(gib: float) -> Callable[[], None]:
    limit = int(gib * (1 << 30))

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def measure(
    code: bytes,
    backend: str,
    *,
    memory_gib: float = DEFAULT_MEMORY_GIB,
    timeout: float = DEFAULT_TIMEOUT,
    llvm_pipeline: str = "default",
    workdir: Path = Path("/tmp"),
) -> dict[str, Any]:
    """Compile ``code`` with ``backend`` in a child process; its report, or why it died."""
    code_file = workdir / f"compile_cost_{os.getpid()}.hex"
    code_file.write_text(code.hex())
    args = [sys.executable, __file__, "--child", backend, str(code_file), llvm_pipeline]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_limit_memory(memory_gib),
        )
    except subprocess.TimeoutExpired:
        return {"bytes": len(code), "failed": f"timeout after {timeout:.0f} s"}
    finally:
        code_file.unlink(missing_ok=True)
    wall = round(time.perf_counter() - start, 3)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"bytes": len(code), "failed": f"exit {done.returncode}: {tail}", "wall": wall}
    report: dict[str, Any] = json.loads(lines[-1])
    report["wall"] = wall
    return report


def _codes(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    from evmkiln.bench.hostile_codes import SHAPES, hostile_code

    codes: list[tuple[str, bytes]] = []
    if args.bench:
        from evmkiln.fixtures.loading import load_bench_file

        root = Path(args.fixtures or os.environ.get("EVMKILN_FIXTURES", "../shared/fixtures"))
        for path in sorted((root / "bench").glob("*.json")):
            pre = load_bench_file(path).fixture.pre
            best = max((bytes(a.code) for a in pre.values() if a.code), key=len, default=b"")
            if best:
                codes.append((path.stem, best))
    else:
        for shape in args.shape or list(SHAPES):
            for size in args.size:
                codes.append((f"{shape}@{size}", hostile_code(shape, size)))
    return codes


def _row(label: str, backend: str, report: dict[str, Any]) -> str:
    kib = report["bytes"] / 1024
    if "failed" in report:
        return f"| {label} | {backend} | {report['failed']} | | | | |"
    outcome = "refused" if "refused" in report else "compiled"
    phases = ", ".join(f"{name} {sec:.2f}" for name, sec in report["phases"].items())
    per_kib = report["seconds"] / kib if kib else 0.0
    return (
        f"| {label} | {backend} | {outcome} | {report['seconds']:.2f} s ({per_kib:.3f} s/KiB) "
        f"| {report['cpu_seconds']:.2f} s | {report['peak_mib']} MiB | {phases} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--shape", action="append", help="a shape of hostile_codes.SHAPES")
    parser.add_argument("--size", action="append", type=int, help="code length (24576 if none)")
    parser.add_argument("--bench", action="store_true", help="the bench contracts instead")
    parser.add_argument("--fixtures", help="fixtures directory (default: $EVMKILN_FIXTURES)")
    parser.add_argument("--memory-gib", type=float, default=DEFAULT_MEMORY_GIB)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--llvm-pipeline", choices=("default", "cheap"), default="default")
    parser.add_argument("--json", action="store_true", help="one JSON report per line")
    args = parser.parse_args()
    args.size = args.size or [24576]
    print("| code | backend | outcome | compile | process CPU | peak RSS | phases (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, code in _codes(args):
        for backend in args.backend or BACKENDS:
            report = measure(
                code,
                backend,
                memory_gib=args.memory_gib,
                timeout=args.timeout,
                llvm_pipeline=args.llvm_pipeline,
            )
            if args.json:
                print(json.dumps({"code": label, "backend": backend, **report}), flush=True)
            else:
                print(_row(label, backend, report), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
