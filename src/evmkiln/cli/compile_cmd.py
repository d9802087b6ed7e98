"""``evmkiln compile``: compile contracts ahead of time into an artifacts directory.

The output is always a directory: artifacts are named by code hash, and a
directory is what ``make_vm_class(backend=..., artifacts=DIR)`` loads, so one
contract and a whole fixture tree produce the same kind of output.  Contracts
come from CODE (hex or a file, as for ``evmkiln ir``) or from the pre-state
accounts of a state-test or bench fixture file, or of every ``*.json`` under
a directory (``--from-fixtures``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from evmkiln.cli.code_input import read_code


def _fixture_codes(path: Path) -> Iterator[tuple[Path, bytes]]:
    """``(file, code)`` for every account with code in the fixture files at ``path``."""
    from evmkiln.fixtures.loading import FixtureError, load_bench_file, load_state_test_file

    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    for file in files:
        try:
            pres = [test.pre for test in load_state_test_file(file).root.values()]
        except FixtureError as state_error:
            try:
                pres = [load_bench_file(file).fixture.pre]
            except FixtureError:
                typer.echo(f"skipped {state_error}", err=True)
                continue
        for pre in pres:
            for account in pre.values():
                if account.code:
                    yield file, bytes(account.code)


def compile_command(
    code: Annotated[
        str | None,
        typer.Argument(help="Bytecode as hex, or a file of hex or raw bytes."),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Artifacts directory (created if missing).", file_okay=False
        ),
    ] = Path("artifacts"),
    backend: Annotated[
        str, typer.Option("--backend", "-b", help="A backend that supports AOT: llvm or wasm.")
    ] = "llvm",
    from_fixtures: Annotated[
        Path | None,
        typer.Option(
            "--from-fixtures",
            help="A state-test/bench file, or a directory of them: compile every contract.",
            exists=True,
        ),
    ] = None,
    fork: Annotated[str, typer.Option("--fork", help="Fork the code will run under.")] = "cancun",
    opt_level: Annotated[int, typer.Option("--opt-level", "-O", min=0, max=3)] = 2,
    gas_metering: Annotated[
        bool,
        typer.Option("--gas-metering/--no-gas-metering", help="Off only for trusted re-execution."),
    ] = True,
) -> None:
    """Compile CODE (or a fixture's contracts) to native artifacts in OUTPUT (llvm or wasm)."""
    from evmkiln.cli.fork_option import checked_fork
    from evmkiln.codegen.backend import CompileOptions
    from evmkiln.context.artifact_store import compile_artifacts, require_aot
    from evmkiln.context.registry import get_backend

    if (code is None) == (from_fixtures is None):
        raise typer.BadParameter("give either CODE or --from-fixtures", param_hint="CODE")
    fork = checked_fork(fork)
    try:
        backend_obj = require_aot(get_backend(backend))
    except (LookupError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend") from None

    codes = [read_code(code)] if code is not None else []
    if from_fixtures is not None:
        codes = [c for _, c in _fixture_codes(from_fixtures)]
    if not any(codes):
        raise typer.BadParameter("no contract code to compile", param_hint="CODE")

    options = CompileOptions(opt_level=opt_level, gas_metering=gas_metering)
    results = compile_artifacts(backend_obj, codes, output, fork=fork, options=options)
    failed = refused = 0
    for result in results:
        if result.refused:
            refused += 1
            typer.echo(f"0x{result.code_hash.hex()}  refused (interpreted): {result.error}")
        elif result.path is None:
            failed += 1
            typer.echo(f"0x{result.code_hash.hex()}  failed: {result.error}", err=True)
        else:
            typer.echo(f"0x{result.code_hash.hex()}  {result.path}")
    compiled = len(results) - failed - refused
    declined = f", {refused} refused" if refused else ""
    typer.echo(f"{compiled} compiled, {failed} failed{declined} -> {output}")
    if failed:
        raise typer.Exit(1)
