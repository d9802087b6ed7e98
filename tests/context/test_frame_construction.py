"""``run_frame`` makes a compiled frame's host and ``Frame`` without a class call only
while both classes are as imported: a tool's patch of either is honoured.  (That the
frames it makes run as py-evm's do is what the differential tests check.)"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eth.vm.forks.cancun import CancunVM

import evmkiln.context.message_path as message_path
from evmkiln.builtins.frame import Frame
from evmkiln.context import make_vm_class
from evmkiln.context.pyevm_host import PyEvmHost
from evmkiln.fuzz.execute import CONTRACT_A, execute

# SLOAD(0), SSTORE(1, that + 1), STOP: a frame whose host is used.
CODES = {CONTRACT_A: bytes.fromhex("60005460010160015500")}
STORAGE = {CONTRACT_A: {0: 41}}


@pytest.fixture(scope="module")
def vm_class() -> Any:
    return make_vm_class(backend="llvm", interpret_on_compile_error=False, fork="cancun")


def _expected() -> Any:
    return execute(CancunVM, CODES, storage=STORAGE)


def test_a_patched_init_is_called(vm_class: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    host_init, frame_init = PyEvmHost.__init__, Frame.__init__

    def counting_host(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append("host")
        host_init(self, *args, **kwargs)

    def counting_frame(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append("frame")
        frame_init(self, *args, **kwargs)

    monkeypatch.setattr(PyEvmHost, "__init__", counting_host)
    monkeypatch.setattr(Frame, "__init__", counting_frame)
    assert execute(vm_class, CODES, storage=STORAGE) == _expected()
    assert calls == ["host", "frame"]


def test_classes_swapped_in_the_module_are_the_ones_made(
    vm_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    class Host(PyEvmHost):
        __slots__ = ("note",)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.note = "host"
            made.append(self.note)

    @dataclasses.dataclass(slots=True, eq=False)
    class TracedFrame(Frame):
        def __post_init__(self) -> None:
            made.append("frame")

    monkeypatch.setattr(message_path, "PyEvmHost", Host)
    monkeypatch.setattr(message_path, "Frame", TracedFrame)
    assert execute(vm_class, CODES, storage=STORAGE) == _expected()
    assert made == ["host", "frame"]
