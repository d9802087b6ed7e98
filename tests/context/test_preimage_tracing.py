"""A tracing compile reports every KECCAK256's input, on every backend.

Tools name storage keys by their preimages (titanoboa's storage dumps read
``env.sha3_trace``); code compiled with ``trace_preimages=True`` tells the
computation class's ``keccak_hook`` what it hashed, with results unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from eth_hash.auto import keccak
from message_harness import A, apply_message

from evmkiln.context import make_vm_class

WORD_A = bytes(range(0x10, 0x30))
WORD_B = bytes(range(0x80, 0xA0))
HASHES = bytes.fromhex(
    "7f" + WORD_A.hex() + "5f52"  # MSTORE(0, WORD_A)
    "7f"
    + WORD_B.hex()
    + "602052"  # MSTORE(32, WORD_B)
    "60405f20 5f55"  # SSTORE(0, KECCAK256(0, 64))
    "60256003 20 600155"  # SSTORE(1, KECCAK256(3, 37))
    "5f5f20 600255"  # SSTORE(2, KECCAK256(0, 0))
    "00".replace(" ", "")
)
# KECCAK256 over 4 GiB: out of gas in the memory expansion, before any hashing.
TOO_BIG = bytes.fromhex("63ffffffff5f20 00".replace(" ", ""))


Seen = list[tuple[bytes, int]]


def _vm(backend: str, monkeypatch: pytest.MonkeyPatch, seen: Seen, **kw: Any) -> Any:
    if backend != "ir":
        pytest.importorskip(f"evmkiln.backend_{backend}")
    vm_class: Any = make_vm_class(backend, fork="cancun", persistent_cache=False, **kw)
    computation = vm_class.get_state_class().computation_class

    def hook(cls: type) -> Any:
        return lambda data, digest: seen.append((data, digest))

    monkeypatch.setattr(computation, "keccak_hook", classmethod(hook))
    return vm_class


@pytest.mark.parametrize("backend", ["ir", "llvm", "wasm"])
def test_a_tracing_compile_reports_each_preimage(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: Seen = []
    vm_class = _vm(backend, monkeypatch, seen, trace_preimages=True)
    accounts = {A: {"code": HASHES}}
    assert apply_message(vm_class, accounts) == apply_message(CancunVM, accounts)
    assert vm_class.stats.frames_run_compiled == 1
    memory = WORD_A + WORD_B
    inputs = [memory, memory[3:40], b""]
    assert seen == [(data, int.from_bytes(keccak(data), "big")) for data in inputs]

    seen.clear()
    accounts = {A: {"code": TOO_BIG}}
    assert apply_message(vm_class, accounts) == apply_message(CancunVM, accounts)
    assert seen == []


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_native_hashing_reports_nothing(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: Seen = []
    vm_class = _vm(backend, monkeypatch, seen)
    accounts = {A: {"code": HASHES}}
    assert apply_message(vm_class, accounts) == apply_message(CancunVM, accounts)
    assert vm_class.stats.frames_run_compiled == 1 and seen == []


def test_background_compiles_keep_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiles in compiler processes, on both tiers, trace as the VM class asks."""
    pytest.importorskip("evmkiln.backend_llvm")
    pytest.importorskip("evmkiln.backend_wasm")
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    policy = RuntimePolicy(
        fast_tier="wasm", thresholds=(Threshold(calls=1, gas=None), Threshold(calls=3, gas=None))
    )
    seen: Seen = []
    vm_class = _vm("llvm", monkeypatch, seen, trace_preimages=True, runtime=policy)
    accounts = {A: {"code": HASHES}}
    expected = apply_message(CancunVM, accounts)
    try:
        for _ in range(5):
            assert apply_message(vm_class, accounts) == expected
            assert vm_class.code_cache.wait_idle(timeout=300)
        snapshot = vm_class.code_cache.snapshot()
    finally:
        vm_class.code_cache.close()
    compiled = vm_class.stats.frames_run_compiled
    assert compiled >= 2 and snapshot.done >= 2 and snapshot.failed == 0, snapshot
    assert len(seen) == 3 * compiled  # three hashes per compiled run, none from interpreted ones
