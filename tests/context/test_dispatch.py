"""How the dispatching VM chooses, caches and settles compiled frames.

A stand-in backend makes each outcome of a compiled frame (return, revert,
each exceptional halt, refunds, compile failures) happen on demand, so the
write-back into py-evm is checked independently of the real compiler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM
from message_harness import SENDER, A, B, apply_message

from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.codegen.backend import BackendCapabilities, CompileOptions, ExitKind
from evmkiln.context import make_vm_class

Body = Callable[[Frame], ExitKind]


@dataclass
class StubExecutable:
    body: Body

    def run(self, frame: Frame) -> ExitKind:
        return self.body(frame)


@dataclass
class StubBackend:
    """Compiles each code to the body registered for it; records what it was asked."""

    bodies: dict[bytes, Body]
    name: str = "stub"
    compiled: list[bytes] = field(default_factory=list)
    options: list[CompileOptions | None] = field(default_factory=list)

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities()

    def compile(self, function: Any, options: CompileOptions | None = None) -> StubExecutable:
        code: bytes = function  # the stand-in lowering passes the code through
        self.compiled.append(code)
        self.options.append(options)
        return StubExecutable(self.bodies[code])


def _identity_lowering(code: bytes) -> Any:
    return code


def _vm(bodies: dict[bytes, Body], **options: Any) -> tuple[Any, StubBackend]:
    backend = StubBackend(bodies)
    return make_vm_class(backend, lower=_identity_lowering, fork="cancun", **options), backend


def _accounts(code: bytes) -> dict[bytes, dict[str, Any]]:
    return {SENDER: {"balance": 10**18}, A: {"code": code}}


def _returns(data: bytes, gas: int = 0, refund: int = 0) -> Body:
    def body(frame: Frame) -> ExitKind:
        frame.gas -= gas
        frame.refund += refund
        frame.output = data
        return ExitKind.RETURN

    return body


# Real bytecode whose interpretation the stubs imitate, for comparison.
# PUSH1 3, PUSH0 2, MSTORE 3 + one word of memory 3, PUSH1 3, PUSH0 2, RETURN 0: 16 gas.
RETURN_ONE = bytes.fromhex("6001 5f52 6020 5ff3".replace(" ", ""))
REVERT_ONE = bytes.fromhex("6001 5f52 6020 5ffd".replace(" ", ""))


def test_return_settles_gas_and_output_like_the_interpreter() -> None:
    word = (1).to_bytes(32, "big")
    vm, _ = _vm({RETURN_ONE: _returns(word, gas=16)})
    expected = apply_message(CancunVM, _accounts(RETURN_ONE))
    assert apply_message(vm, _accounts(RETURN_ONE)) == expected
    assert vm.stats.frames_run_compiled == 1


def test_revert_keeps_gas_and_output() -> None:
    word = (1).to_bytes(32, "big")

    def body(frame: Frame) -> ExitKind:
        frame.gas -= 16
        frame.output = word
        return ExitKind.REVERT

    vm, _ = _vm({REVERT_ONE: body})
    expected = apply_message(CancunVM, _accounts(REVERT_ONE))
    actual = apply_message(vm, _accounts(REVERT_ONE))
    assert actual == expected
    assert (actual.error, actual.output) == ("Revert", word)
    assert actual.gas_remaining == 1_000_000 - 16


@pytest.mark.parametrize("kind", list(HaltKind))
def test_every_halt_burns_all_gas_and_reverts_state(kind: HaltKind) -> None:
    code = b"\xfe"  # the interpreter halts on it; the stub decides its own halt

    def body(frame: Frame) -> ExitKind:
        frame.host.set_storage(frame.address, 0, 1)
        frame.refund += 100
        raise ExceptionalHalt(kind)

    vm, _ = _vm({code: body})
    interpreted = apply_message(CancunVM, _accounts(code))
    outcome = apply_message(vm, _accounts(code))
    assert not outcome.success
    assert outcome.gas_remaining == 0
    assert outcome.refund == 0
    assert outcome.output == b""
    assert outcome.state_root == interpreted.state_root
    assert outcome.error != "Revert"
    assert outcome.logs == ()


def test_refunds_reach_the_transaction() -> None:
    vm, _ = _vm({RETURN_ONE: _returns(b"", refund=4800)})
    assert apply_message(vm, _accounts(RETURN_ONE)).refund == 4800


def test_code_is_compiled_once_precompiles_interpreted_and_empty_code_settled() -> None:
    calls = 0

    def body(frame: Frame) -> ExitKind:
        nonlocal calls
        calls += 1
        return ExitKind.STOP

    vm, backend = _vm({RETURN_ONE: body}, opt_level=1, flavour="x")
    accounts = _accounts(RETURN_ONE) | {B: {"code": RETURN_ONE}}
    apply_message(vm, accounts)
    apply_message(vm, accounts, to=B)
    apply_message(vm, accounts, to=bytes(19) + b"\x04")  # identity precompile
    apply_message(vm, accounts, to=bytes(20))  # no code
    assert calls == 2
    assert backend.compiled == [RETURN_ONE]
    assert backend.options[0] == CompileOptions(opt_level=1, extra={"flavour": "x"})
    stats = vm.stats
    assert (stats.frames_compiled, stats.frames_run_compiled, stats.frames_interpreted) == (1, 2, 1)
    assert stats.frames_without_code == 1


def test_compile_failure_falls_back_to_the_interpreter() -> None:
    def failing_lowering(code: bytes) -> Any:
        raise NotImplementedError("cannot lower this")

    vm = make_vm_class(StubBackend({}), lower=failing_lowering, fork="cancun")
    expected = apply_message(CancunVM, _accounts(RETURN_ONE))
    assert apply_message(vm, _accounts(RETURN_ONE)) == expected
    assert apply_message(vm, _accounts(RETURN_ONE)) == expected
    stats = vm.stats
    assert (stats.compile_failures, stats.frames_interpreted, stats.frames_run_compiled) == (
        1,
        2,
        0,
    )
    assert "cannot lower this" in stats.failures[RETURN_ONE]


def test_each_vm_class_has_its_own_cache_and_stats() -> None:
    first, _ = _vm({})
    second, _ = _vm({})
    assert first.stats is not second.stats
    assert (
        first.get_state_class().computation_class is not second.get_state_class().computation_class
    )
    assert issubclass(first, CancunVM)


def test_forks_evmkiln_does_not_know_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported fork 'amsterdam'"):
        make_vm_class(StubBackend({}), fork="amsterdam")
    with pytest.raises(ValueError, match="named by a string"):
        make_vm_class(StubBackend({}), fork=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"opt_level": "x"},
        {"opt_level": 2.5},
        {"opt_level": 4},
        {"opt_level": -1},
        {"opt_level": True},
        {"gas_metering": "no"},
    ],
)
def test_malformed_compile_options_are_refused_at_once(options: dict[str, Any]) -> None:
    """Not at the first compile, where the fallback would quietly interpret every code."""
    with pytest.raises(ValueError, match=r"opt_level|gas_metering"):
        make_vm_class(StubBackend({}), **options)
