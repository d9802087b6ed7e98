"""``evmkiln demo``: the whole pipeline on a bundled contract, next to py-evm.

The contract computes Fibonacci numbers in a loop, stores the result, logs it
and returns it, so the demo exercises lowering (a loop with block
parameters), builtins (CALLDATALOAD, SSTORE, LOG1) and the dispatching VM.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from evmkiln.cli.backend_option import checked_backends

# fib(n) for n = calldata word 0; stores it at slot 0, logs it with topic n, returns it.
FIB_CONTRACT = bytes.fromhex(
    "5f35"  # 00 PUSH0 CALLDATALOAD          n
    "5f6001"  # 02 PUSH0 PUSH1 1             n a=0 b=1
    "5b"  # 05 JUMPDEST loop
    "8215601757"  # 06 DUP3 ISZERO PUSH1 end JUMPI
    "80910191"  # 0b DUP1 SWAP2 ADD SWAP2     n b a+b   (as n, a', b')
    "6001900391"  # 0f PUSH1 1 SWAP1 SUB SWAP2  n-1 a' b'
    "600556"  # 14 PUSH1 loop JUMP
    "5b50"  # 17 JUMPDEST end POP           n a
    "805f55"  # 19 DUP1 PUSH0 SSTORE           storage[0] = a
    "805f52"  # 1c DUP1 PUSH0 MSTORE           memory[0:32] = a
    "8160205fa1"  # 1f DUP2 PUSH1 32 PUSH0 LOG1 log(memory[0:32], topic n)
    "60205ff3"  # 24 PUSH1 32 PUSH0 RETURN
)
CONTRACT = bytes.fromhex("c0de" * 10)
GAS_LIMIT = 10_000_000
"""The transaction's gas: the loop's 55 gas a step pay for n up to about 180,000."""


def _calldata_word(n: int) -> int:
    """``--n`` if one calldata word holds it: the contract reads it from calldata word 0."""
    from evmkiln.bench.parameters import ParameterError, check_word

    try:
        return check_word(n, "n")
    except ParameterError as exc:
        raise typer.BadParameter(str(exc)) from None


def demo(
    n: Annotated[
        int,
        typer.Option("--n", help="Which Fibonacci number to compute.", callback=_calldata_word),
    ] = 1000,
    backends: Annotated[
        str,
        typer.Option("--backend", "-b", help="Comma-separated evmkiln backends (default: all)."),
    ] = "",
    show_ir: Annotated[bool, typer.Option("--ir/--no-ir", help="Print the contract's IR.")] = True,
) -> None:
    """Compile a bundled contract, print its IR, run it on py-evm and each backend, compare."""
    from eth.vm.forks.cancun import CancunVM

    from evmkiln.codegen.ir.printer import format_function
    from evmkiln.codegen.pipeline import lower_bytecode
    from evmkiln.context import make_vm_class

    names = checked_backends(backends)

    console = Console()
    if show_ir:
        console.rule("evmkiln IR of the bundled Fibonacci contract")
        console.print(format_function(lower_bytecode(FIB_CONTRACT)), highlight=False)
    data = n.to_bytes(32, "big")
    results = {"py-evm": _run(CancunVM, data)}
    for name in names:
        vm_class = make_vm_class(backend=name, interpret_on_compile_error=False, fork="cancun")
        _run(vm_class, data)  # first run compiles; time the second
        results[f"evmkiln {name}"] = _run(vm_class, data)
    table = Table(title=f"fib({n}) mod 2**256 on py-evm and evmkiln (compiled on first run)")
    for column in ("engine", "status", "gas used", "output", "state root", "time"):
        table.add_column(column, no_wrap=True)
    for engine, r in results.items():
        table.add_row(
            engine,
            "success" if r["success"] else "failure",
            str(r["gas_used"]),
            str(int.from_bytes(r["output"], "big"))[:10] + "…",
            r["state_root"].hex()[:8] + "…",
            f"{r['seconds'] * 1000:.1f} ms",
        )
    console.print(table)
    ref = results["py-evm"]
    if ref["success"]:
        console.print(f"fib({n}) mod 2**256 = {int.from_bytes(ref['output'], 'big')}")
    else:  # an n past what the gas pays for: the loop never finished, nothing was returned
        console.print(
            f"fib({n}) not computed: the transaction failed on py-evm ({ref['error']}) "
            f"within its {GAS_LIMIT:,} gas"
        )
    keys = ("success", "gas_used", "output", "logs", "state_root")
    if all(r[k] == ref[k] for r in results.values() for k in keys):
        console.print(
            "[green]identical results[/green] (status, gas, output, "
            f"{len(ref['logs'])} log(s), state root)"
        )
    else:
        console.print("[red]results differ[/red]")
        raise typer.Exit(1)


def _run(vm_class: Any, data: bytes) -> dict[str, Any]:
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB
    from eth_keys.datatypes import PrivateKey

    key = PrivateKey(b"\x42" * 32)
    sender = key.public_key.to_canonical_address()
    genesis: dict[str, Any] = {
        "difficulty": 0,
        "gas_limit": 30_000_000,
        "timestamp": 1,
        "coinbase": b"\0" * 20,
        "extra_data": b"",
        "nonce": b"\0" * 8,
        "mix_hash": b"\0" * 32,
    }
    state: dict[Any, Any] = {
        sender: {"balance": 10**20, "nonce": 0, "code": b"", "storage": {}},
        CONTRACT: {"balance": 0, "nonce": 1, "code": FIB_CONTRACT, "storage": {}},
    }
    chain_class = MiningChain.configure(__name__="DemoChain", vm_configuration=((0, vm_class),))
    vm = chain_class.from_genesis(AtomicDB(), genesis, state).get_vm()
    tx = vm.create_unsigned_transaction(
        nonce=0, gas_price=10**9, gas=GAS_LIMIT, to=cast(Any, CONTRACT), value=0, data=data
    ).as_signed_transaction(key)
    start = time.perf_counter()
    receipt, computation = vm.apply_transaction(vm.get_header(), tx)
    seconds = time.perf_counter() - start
    return {
        "success": computation.is_success,
        "error": None if computation.is_success else type(computation.error).__name__,
        "gas_used": receipt.gas_used,
        "output": bytes(computation.output),
        "logs": [(log.address, tuple(log.topics), log.data) for log in receipt.logs],
        "state_root": bytes(vm.state.make_state_root()),
        "seconds": seconds,
    }
