"""Deploy and call a contract through web3.py and through titanoboa, on py-evm and on evmkiln.

Run from the checkout:  uv run --frozen python examples/web3_and_titanoboa.py

The contract (Vyper, compiled by the ``vyper`` package titanoboa brings) sums the squares of 0..n-1
in a loop: the kind of code where an interpreter's dispatch loop dominates.
Each half of the example times the same calls on stock py-evm and on evmkiln
(llvm; every code compiled before it first runs, so the timed calls measure
compiled code), checks that the answers agree, and prints the speed-up.
"""

from __future__ import annotations

import os
import time
from typing import Any

import vyper
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from evmkiln.integrations.eth_tester import KilnBackend

SOURCE = """
# pragma version ^0.4.0

@external
@view
def sum_of_squares(n: uint256) -> uint256:
    total: uint256 = 0
    for i: uint256 in range(n, bound=100000):
        total += i * i
    return total
"""
N = int(os.environ.get("EXAMPLE_N", "2000"))
"""Loop iterations per call."""
CALLS = int(os.environ.get("EXAMPLE_CALLS", "20"))
"""Timed calls per configuration (after one untimed call)."""


def timed(call: Any) -> tuple[float, Any]:
    call()  # the first call may compile
    start = time.perf_counter()
    for _ in range(CALLS):
        result = call()
    return (time.perf_counter() - start) / CALLS, result


def web3_call_time(backend: Any, abi: Any, bytecode: str) -> tuple[float, int]:
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    w3.eth.default_account = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact())
    contract = w3.eth.contract(address=receipt["contractAddress"], abi=abi)
    return timed(lambda: contract.functions.sum_of_squares(N).call())


def main() -> None:
    compiled = vyper.compile_code(SOURCE, output_formats=["abi", "bytecode"])
    abi, bytecode = compiled["abi"], compiled["bytecode"]

    stock, expected = web3_call_time(PyEVMBackend(), abi, bytecode)
    kiln, answer = web3_call_time(KilnBackend("llvm", runtime=None), abi, bytecode)
    assert answer == expected == sum(i * i for i in range(N))
    print(
        f"web3.py:    py-evm {stock * 1e3:7.2f} ms/call   evmkiln {kiln * 1e3:7.2f} ms/call"
        f"   {stock / kiln:5.1f}x"
    )

    # Importing titanoboa patches py-evm's KECCAK256 for every VM in the process (for its
    # storage dumps); evmkiln would then interpret it.  So titanoboa comes second.
    import boa

    from evmkiln.integrations import boa as kiln_boa

    contract = boa.loads(SOURCE)
    stock, expected = timed(lambda: contract.sum_of_squares(N))
    kiln_boa.enable("llvm", runtime=None)
    try:
        kiln, answer = timed(lambda: contract.sum_of_squares(N))
    finally:
        kiln_boa.disable()
    assert answer == expected
    print(
        f"titanoboa:  py-evm {stock * 1e3:7.2f} ms/call   evmkiln {kiln * 1e3:7.2f} ms/call"
        f"   {stock / kiln:5.1f}x"
    )


if __name__ == "__main__":
    main()
