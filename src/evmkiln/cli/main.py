"""The ``evmkiln`` command: one typer app, one module per subcommand.

Subcommands live in ``cli/<name>_cmd.py`` and are registered here, so adding
one (``ir``, ``compile``, ``bench``, ``demo``, ``fuzz``, ``cache``) touches this file by one line.
Heavy imports (py-evm, backends) stay inside the command functions' modules'
call paths, so ``evmkiln --help`` is fast.
"""

from __future__ import annotations

import typer

from evmkiln.cli.bench_cmd import bench
from evmkiln.cli.cache_cmd import cache_app
from evmkiln.cli.compile_cmd import compile_command
from evmkiln.cli.demo_cmd import demo
from evmkiln.cli.fuzz_cmd import fuzz
from evmkiln.cli.ir_cmd import ir
from evmkiln.cli.run_cmd import run
from evmkiln.cli.soak_cmd import soak_command
from evmkiln.cli.statetest_cmd import statetest
from evmkiln.cli.workload_cmd import workload

app = typer.Typer(
    name="evmkiln",
    help="JIT/AOT compiler framework for the EVM: run fixtures and conformance tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


app.command("statetest")(statetest)
app.command("run")(run)
app.command("ir")(ir)
app.command("demo")(demo)
app.command("compile")(compile_command)
app.command("bench")(bench)
app.command("soak")(soak_command)
app.command("fuzz")(fuzz)
app.add_typer(cache_app, name="cache")
app.command("workload")(workload)


if __name__ == "__main__":
    app()
