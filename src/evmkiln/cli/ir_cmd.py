"""``evmkiln ir``: show what the compiler makes of some bytecode."""

from __future__ import annotations

from typing import Annotated

import typer

from evmkiln.cli.code_input import read_code


def ir(
    code: Annotated[str, typer.Argument(help="Bytecode as hex, or a file of hex or raw bytes.")],
    emit: Annotated[
        str,
        typer.Option(
            "--emit",
            help="ir (evmkiln IR), or a backend's own form: llvm, asm (llvm backend), wat (wasm).",
        ),
    ] = "ir",
    stats: Annotated[bool, typer.Option("--stats", help="Print block/instruction counts.")] = False,
    budget: Annotated[
        bool,
        typer.Option(
            "--budget/--no-budget",
            help="Refuse code over its compile budget, as the VM does (off: lower it anyway).",
        ),
    ] = True,
) -> None:
    """Print the IR (or a backend's generated code) for CODE."""
    import time

    from evmkiln.codegen.budget import CompileBudgetExceeded, IrSize
    from evmkiln.codegen.ir.printer import format_function
    from evmkiln.codegen.lowering.versions import PlanChoice
    from evmkiln.codegen.pipeline import lower_bytecode

    choices: list[PlanChoice] = []
    try:
        started = time.perf_counter()
        function = lower_bytecode(read_code(code), within_budget=budget, on_plan=choices.append)
        lowering = time.perf_counter() - started
    except CompileBudgetExceeded as exc:
        typer.echo(f"{exc} (the VM interprets such code; --no-budget lowers it anyway)", err=True)
        raise typer.Exit(1) from None
    if emit == "ir":
        typer.echo(format_function(function), nl=False)
    else:
        typer.echo(_emit_with_backend(function, emit), nl=False)
    if stats:
        size = IrSize.of(function)
        typer.echo(
            f"; {size.blocks} blocks, {size.instructions} instructions, "
            f"{size.jump_table} jump-table entries, "
            f"{size.edge_values} block parameters and branch arguments"
        )
        typer.echo(
            f"; {size.known_versions} known-height and {size.dynamic_versions} dynamic "
            f"block versions, {size.stack_loads} stack loads, {size.stack_stores} stack stores"
        )
        typer.echo(f"; {choices[0]}")
        typer.echo(f"; lowered in {lowering * 1e3:.1f} ms (analysis, lowering, passes, verifier)")


_EMITTERS = {
    "llvm": ("llvm", "emit_llvm"),
    "asm": ("llvm", "emit_asm"),
    "wat": ("wasm", "emit_wat"),
}


def _emit_with_backend(function: object, emit: str) -> str:
    from evmkiln.context.registry import get_backend

    if emit not in _EMITTERS:
        raise typer.BadParameter(
            f"unknown form {emit!r}; choose from ir, {', '.join(_EMITTERS)}", param_hint="--emit"
        )
    backend_name, method = _EMITTERS[emit]
    try:
        backend = get_backend(backend_name)
    except (KeyError, ValueError, LookupError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--emit") from None
    emitter = getattr(backend, method, None)
    if emitter is None:
        raise typer.BadParameter(
            f"the {backend_name} backend cannot emit {emit} yet", param_hint="--emit"
        )
    return str(emitter(function))
