"""Run the same IR on the reference backend and the wasm backend, and compare.

A tiny in-memory host answers storage, transient storage, logs, the block
environment and sub-calls (a sub-call runs the callee's code with the same
backend, which exercises re-entrant runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from evmkiln.backend_wasm import WasmBackend, runtime
from evmkiln.builtins.frame import Frame
from evmkiln.builtins.halts import ExceptionalHalt
from evmkiln.builtins.host import ChildResult
from evmkiln.codegen.backend import Backend, CompileOptions, Executable
from evmkiln.codegen.pipeline import lower_bytecode
from evmkiln.codegen.reference import ReferenceBackend

LOWERING_FORK = "osaka"
"""Both backends run the same IR, so the newest fork's opcode table (a superset
of the older ones: CLZ) lets every IR word operation be reached from bytecode."""
ADDRESS = b"\x11" * 20
CALLER = b"\x22" * 20


@dataclass
class FakeHost:
    """The state one test frame can reach; enough for storage, logs and calls."""

    backend: Backend
    storage: dict[tuple[bytes, int], int] = field(default_factory=dict)
    transient: dict[tuple[bytes, int], int] = field(default_factory=dict)
    warm: set[tuple[bytes, int]] = field(default_factory=set)
    logs: list[tuple[bytes, tuple[int, ...], bytes]] = field(default_factory=list)
    codes: dict[bytes, bytes] = field(default_factory=dict)
    compiled: dict[bytes, Executable] = field(default_factory=dict)
    depth: int = 0

    def origin(self) -> bytes:
        return CALLER

    def gas_price(self) -> int:
        return 7

    def coinbase(self) -> bytes:
        return b"\x33" * 20

    def timestamp(self) -> int:
        return 1_700_000_000

    def block_number(self) -> int:
        return 1000

    def prev_randao(self) -> int:
        return 2**200 + 5

    def gas_limit(self) -> int:
        return 30_000_000

    def chain_id(self) -> int:
        return 1

    def base_fee(self) -> int:
        return 10

    def blob_base_fee(self) -> int:
        return 1

    def block_hash(self, number: int) -> int:
        return number * 7919

    def blob_hashes(self) -> list[bytes]:
        return []

    def get_balance(self, address: bytes) -> int:
        return 10**18

    def access_account(self, address: bytes) -> bool:
        return True

    def delegation_target(self, address: bytes) -> bytes | None:
        return None  # a Cancun host: no EIP-7702 delegations

    def access_storage(self, address: bytes, slot: int) -> bool:
        cold = (address, slot) not in self.warm
        self.warm.add((address, slot))
        return cold

    def get_storage(self, address: bytes, slot: int) -> int:
        return self.storage.get((address, slot), 0)

    def get_original_storage(self, address: bytes, slot: int) -> int:
        return 0

    def frames_mark(self) -> int:
        return 0

    def frame_ran_at(self, address: bytes, mark: int) -> bool:
        return True  # it does not keep the frames' tree

    def storage_stamp(self, address: bytes) -> object | None:
        return None  # it keeps no journal: no storage table outlives its frame

    def load_slot(self, address: bytes, slot: int) -> tuple[bool, int, int]:
        cold = self.access_storage(address, slot)
        return cold, self.get_storage(address, slot), self.get_original_storage(address, slot)

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self.storage[(address, slot)] = value

    def get_transient(self, address: bytes, slot: int) -> int:
        return self.transient.get((address, slot), 0)

    def set_transient(self, address: bytes, slot: int, value: int) -> None:
        self.transient[(address, slot)] = value

    def emit_log(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        self.logs.append((address, topics, data))

    def emit_logs(self, address: bytes, logs: list[tuple[tuple[int, ...], bytes]]) -> None:
        self.logs.extend([(address, topics, data) for topics, data in logs])

    def get_code(self, address: bytes) -> bytes:
        return self.codes.get(address, b"")

    def account_exists(self, address: bytes) -> bool:
        return True

    def account_is_empty(self, address: bytes) -> bool:
        return False

    def call(self, **kw: Any) -> ChildResult:
        code = self.codes.get(kw["code_address"], b"")
        if code not in self.compiled:
            self.compiled[code] = self.backend.compile(lower_bytecode(code, fork=LOWERING_FORK))
        child = Frame(
            host=self, gas=kw["gas"], code=code, calldata=kw["data"], address=kw["to"],
            caller=kw["sender"], value=kw.get("value", 0), is_static=kw["is_static"],
            depth=self.depth + 1,
        )  # fmt: skip
        self.depth += 1
        try:
            kind = self.compiled[code].run(child)
        except ExceptionalHalt:
            return ChildResult(False, b"", 0, b"")
        finally:
            self.depth -= 1
        ok = kind.is_success
        return ChildResult(ok, child.output, child.gas, child.output)


def new_frame(host: FakeHost, code: bytes, gas: int, calldata: bytes = b"") -> Frame:
    return Frame(
        host=host, gas=gas, code=code, calldata=calldata, address=ADDRESS, caller=CALLER,
        value=0, is_static=False, depth=0,
    )  # fmt: skip


Outcome = tuple[object, ...]
_CACHE: dict[tuple[str, bytes, str], Executable] = {}


def _compiled(backend: Backend, code: bytes, options: CompileOptions | None) -> Executable:
    """Compile once per (backend, code, options): runs must not depend on earlier runs."""
    key = (backend.name, code, repr(options))
    if key not in _CACHE:
        _CACHE[key] = backend.compile(lower_bytecode(code, fork=LOWERING_FORK), options)
    return _CACHE[key]


def run_with(
    backend: Backend,
    code: bytes,
    *,
    gas: int = 1_000_000,
    calldata: bytes = b"",
    codes: dict[bytes, bytes] | None = None,
    options: CompileOptions | None = None,
) -> Outcome:
    """Everything observable after running ``code``: exit or halt, output, gas, memory, state."""
    host = FakeHost(backend, codes=dict(codes or {}))
    frame = new_frame(host, code, gas, calldata)
    exe = _compiled(backend, code, options)
    try:
        result: object = exe.run(frame)
        gas_left: object = frame.gas
        memory: object = bytes(frame.memory)
    except ExceptionalHalt as halt:
        result, gas_left, memory = ("halt", halt.kind), None, None
    return (result, frame.output, gas_left, memory, host.storage, host.transient, host.logs)


WASM = WasmBackend()
REFERENCE = ReferenceBackend()


def assert_same(code: bytes, **kw: Any) -> Outcome:
    """Run on both backends; they must agree exactly.  Returns the outcome."""
    expected = run_with(REFERENCE, code, **kw)
    actual = run_with(WASM, code, **kw)
    assert actual == expected, code.hex()
    return actual


def count_crossings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The builtin ids of the crossings into the host made from now on (every slot's)."""
    crossed: list[int] = []
    handle = runtime._Slot._handle

    def counting(self: runtime._Slot, ident: int) -> int:
        crossed.append(ident)
        return handle(self, ident)

    monkeypatch.setattr(runtime._Slot, "_handle", counting)
    return crossed
