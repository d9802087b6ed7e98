"""A nested frame's storage table, kept for the next frame on the same account.

Contract A calls B again and again in one transaction; B reads, writes,
reverts, has its storage written by a DELEGATECALL child, uses transient
storage, or is entered through a proxy.  Whatever the order, every backend
must match stock py-evm (gas, output, logs, state root), and the kept table
must actually answer: B's second read of a slot does not cross into Python.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth_typing import Address
from hypothesis import given, settings
from hypothesis import strategies as st
from transient_reads import count_transient_reads

from evmkiln.backend_llvm import builtin_bridge
from evmkiln.backend_wasm import runtime
from evmkiln.backend_wasm.backend import WasmExecutable
from evmkiln.builtins.host import KEPT_ENTRIES_LIMIT
from evmkiln.context import make_vm_class
from evmkiln.context.transient_storage import JournaledTransientStorage
from evmkiln.fuzz.asm import Label, Ref, asm
from evmkiln.fuzz.execute import (
    _GENESIS,
    BLOCK_INTERVAL,
    CONTRACT_A,
    CONTRACT_B,
    CONTRACT_BALANCE,
    CONTRACT_C,
    GAS_PRICE,
    SENDER,
    SENDER_BALANCE,
    SENDER_KEY,
    execute,
)

CONTRACT_D = bytes.fromhex("dd" * 20)
CONTRACT_P = bytes.fromhex("ee" * 20)


def _word(address: bytes) -> int:
    return int.from_bytes(address, "big")


READ, INCREMENT, DELEGATE_WRITES, WRITE_THEN_REVERT, TRANSIENT, DELEGATE_TSTORE = range(1, 7)
MODES = [READ, INCREMENT, DELEGATE_WRITES, WRITE_THEN_REVERT, TRANSIENT, DELEGATE_TSTORE]
CALL, STATICCALL = 0xF1, 0xFA

# B: its mode is the first byte of its call data; every mode but the revert ends by
# returning SLOAD(0) + SLOAD(1) + TLOAD(0).
_B = asm(
    0, "CALLDATALOAD", 248, "SHR",
    "DUP1", INCREMENT, "EQ", Ref("increment"), "JUMPI",
    "DUP1", DELEGATE_WRITES, "EQ", Ref("delegate_writes"), "JUMPI",
    "DUP1", WRITE_THEN_REVERT, "EQ", Ref("revert"), "JUMPI",
    "DUP1", TRANSIENT, "EQ", Ref("transient"), "JUMPI",
    "DUP1", DELEGATE_TSTORE, "EQ", Ref("delegate_tstore"), "JUMPI",
    Label("read"),
    0, "SLOAD", 1, "SLOAD", "ADD", 0, "TLOAD", "ADD", 0, "MSTORE", 32, 0, "RETURN",
    Label("increment"),
    0, "SLOAD", 1, "ADD", 0, "SSTORE", Ref("read"), "JUMP",
    Label("delegate_writes"),
    0, 0, 0, 0, _word(CONTRACT_C), "GAS", "DELEGATECALL", "POP", Ref("read"), "JUMP",
    Label("revert"),
    9, 0, "SSTORE", 9, 1, "SSTORE", 0, 0, "REVERT",
    Label("transient"),
    0, "TLOAD", 1, "ADD", 0, "TSTORE", 1, "SLOAD", 1, "ADD", 1, "SSTORE", Ref("read"), "JUMP",
    Label("delegate_tstore"),
    0, 0, 0, 0, _word(CONTRACT_D), "GAS", "DELEGATECALL", "POP", Ref("read"), "JUMP",
)  # fmt: skip
_C = asm(0, "SLOAD", 77, "ADD", 0, "SSTORE", "STOP")  # writes its caller's slot 0
_D = asm(0, "TLOAD", 100, "ADD", 0, "TSTORE", "STOP")  # writes its caller's transient slot 0
# P: a proxy of B's code at its own address; a first byte of 7 makes it write its
# transient slot 0 itself before delegating (what a frame of other code on the same
# account can do between two frames of B's code).
_P = asm(
    0, "CALLDATALOAD", 248, "SHR", 7, "EQ", Ref("go"), "JUMPI",
    Ref("delegate"), "JUMP",
    Label("go"), 555, 0, "TSTORE",
    Label("delegate"),
    "CALLDATASIZE", 0, 0, "CALLDATACOPY",
    32, 0, "CALLDATASIZE", 0, _word(CONTRACT_B), "GAS", "DELEGATECALL",
    "POP", 32, 0, "RETURN",
)  # fmt: skip


def _caller(steps: list[tuple[int, bytes, int]]) -> bytes:
    """A: for each (opcode, callee, mode) call the callee with the mode as its call data;
    return each call's status and output word."""
    items: list[Any] = []
    for index, (opcode, callee, mode) in enumerate(steps):
        items += [mode, 248, "SHL", 0, "MSTORE"]  # call data: the mode byte
        if opcode == CALL:
            items += [32, 64 + 64 * index, 1, 0, 0, _word(callee), "GAS", "CALL"]
        else:
            items += [32, 64 + 64 * index, 1, 0, _word(callee), "GAS", "STATICCALL"]
        items += [96 + 64 * index, "MSTORE"]
    items += [64 * len(steps), 64, "RETURN"]
    return asm(*items)


def _codes(steps: list[tuple[int, bytes, int]]) -> dict[bytes, bytes]:
    return {
        CONTRACT_A: _caller(steps),
        CONTRACT_B: _B,
        CONTRACT_C: _C,
        CONTRACT_D: _D,
        CONTRACT_P: _P,
    }


STORAGE = {CONTRACT_B: {0: 5, 1: 11}, CONTRACT_P: {0: 3}}
_VMS: dict[str, Any] = {}


def _vm(backend: str) -> Any:
    if backend not in _VMS:
        _VMS[backend] = make_vm_class(
            backend=backend, interpret_on_compile_error=False, fork="cancun"
        )
    return _VMS[backend]


_STEP = st.tuples(
    st.sampled_from([CALL, CALL, STATICCALL]),
    st.sampled_from([CONTRACT_B, CONTRACT_B, CONTRACT_P]),
    st.sampled_from([*MODES, 7]),
)


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@settings(max_examples=25, deadline=None)
@given(steps=st.lists(_STEP, min_size=2, max_size=7))
def test_calls_again_and_again_match_pyevm(
    backend: str, steps: list[tuple[int, bytes, int]]
) -> None:
    codes = _codes(steps)
    expected = execute(CancunVM, codes, storage=STORAGE, gas=3_000_000)
    assert execute(_vm(backend), codes, storage=STORAGE, gas=3_000_000) == expected


SEQUENCES = {
    "reads": [(CALL, CONTRACT_B, READ)] * 3,
    "increments": [(CALL, CONTRACT_B, INCREMENT)] * 3 + [(CALL, CONTRACT_B, READ)],
    "static after writes": [
        (CALL, CONTRACT_B, INCREMENT),
        (STATICCALL, CONTRACT_B, INCREMENT),
        (CALL, CONTRACT_B, READ),
    ],
    "written by a delegate": [(CALL, CONTRACT_B, READ), (CALL, CONTRACT_B, DELEGATE_WRITES)] * 2,
    "reverted": [(CALL, CONTRACT_B, INCREMENT), (CALL, CONTRACT_B, WRITE_THEN_REVERT)] * 2,
    "transient": [(CALL, CONTRACT_B, TRANSIENT), (CALL, CONTRACT_B, DELEGATE_TSTORE)] * 2,
    "proxy writes transient": [(CALL, CONTRACT_P, TRANSIENT), (CALL, CONTRACT_P, 7)] * 2,
}


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_sequences_match_pyevm(backend: str, name: str) -> None:
    codes = _codes(SEQUENCES[name])
    expected = execute(CancunVM, codes, storage=STORAGE, gas=3_000_000)
    assert expected.success
    assert execute(_vm(backend), codes, storage=STORAGE, gas=3_000_000) == expected


def _count_sload_crossings(module: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The slots of the SLOAD crossings a backend's runtime (``module``) makes from now on."""
    crossings: list[int] = []
    real = module.sload_with_original

    def counted(frame: Any, slot: int) -> Any:
        crossings.append(slot)
        return real(frame, slot)

    monkeypatch.setattr(module, "sload_with_original", counted)
    return crossings


@pytest.mark.parametrize(("backend", "module"), [("llvm", builtin_bridge), ("wasm", runtime)])
def test_a_kept_table_answers_the_next_frame(
    backend: str, module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three calls reading two slots cross for them once, not three times; a write by
    a DELEGATECALL child in between makes the next call read them again."""
    crossings = _count_sload_crossings(module, monkeypatch)
    vm_class = _vm(backend)
    execute(vm_class, _codes(SEQUENCES["reads"]), storage=STORAGE)
    assert sorted(crossings) == [0, 1]
    crossings.clear()
    steps = [
        (CALL, CONTRACT_B, READ),
        (CALL, CONTRACT_B, DELEGATE_WRITES),
        (CALL, CONTRACT_B, READ),
    ]
    execute(vm_class, _codes(steps), storage=STORAGE)
    # The second call's child (C, on B's storage) and the second and third calls of B
    # read again after C's write: only the first call's table was any use.
    assert crossings.count(0) >= 3


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_a_kept_table_answers_transient_reads_of_the_next_frame(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's stamp covers transient storage, so a kept table keeps its transient
    entries: three calls that TLOAD slot 0 ask the host once.  A transient write of the
    account in between (B's code through a proxy's DELEGATECALL writing the proxy's
    slot) makes the next call ask again."""
    crossings = count_transient_reads(monkeypatch)
    vm_class = _vm(backend)
    codes = _codes(SEQUENCES["reads"])
    assert execute(vm_class, codes, storage=STORAGE) == execute(CancunVM, codes, storage=STORAGE)
    assert crossings == [0]
    crossings.clear()
    codes = _codes([(CALL, CONTRACT_P, READ), (CALL, CONTRACT_P, 7), (CALL, CONTRACT_P, READ)])
    expected = execute(CancunVM, codes, storage=STORAGE)
    assert execute(vm_class, codes, storage=STORAGE) == expected
    # 555 (the proxy's own write) is seen by the second and the third call.
    assert crossings.count(0) >= 2


class _WatchedTransientStorage(JournaledTransientStorage):
    """A tool's transient storage: it sees every write, which evmkiln cannot know."""

    writes: ClassVar[list[tuple[bytes, int]]] = []

    def set_transient_storage(self, address: Address, slot: int, value: bytes) -> None:
        self.writes.append((address, slot))
        super().set_transient_storage(address, slot, value)


@pytest.mark.parametrize(("backend", "module"), [("llvm", builtin_bridge), ("wasm", runtime)])
def test_no_table_is_kept_where_transient_writes_may_not_drop_the_stamp(
    backend: str, module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient storage class of a tool's, overriding the writes: the host cannot
    vouch for transient storage, gives no stamp, and every call reads afresh."""
    crossings = _count_sload_crossings(module, monkeypatch)
    vm_class = _vm(backend)
    state_class = vm_class.get_state_class().configure(
        __name__="WatchedState", _transient_storage_class=_WatchedTransientStorage
    )
    watched = vm_class.configure(__name__="WatchedVM", _state_class=state_class)
    codes = _codes(SEQUENCES["transient"])
    expected = execute(CancunVM, codes, storage=STORAGE, gas=3_000_000)
    assert execute(watched, codes, storage=STORAGE, gas=3_000_000) == expected
    assert _WatchedTransientStorage.writes
    assert crossings.count(0) == 4  # each of B's four frames reads slot 0 itself


CONTRACT_A2 = bytes.fromhex("a2" * 20)


def _outputs_of_messages(vm_class: Any, swap: str) -> list[bytes]:
    """Messages applied straight to a state, as a tool driving py-evm without
    transactions does (nothing ends a transaction in between): A2 has B count its
    transient slot 0 up, A has B read it; then the state gets a new transient storage
    (``swap == "recreated"``), or the database a new state (``"moved"``), and A again.
    ``"alternating"``: the new state counts up twice, then the first one reads."""
    sys.path.insert(0, str(Path(__file__).parent))
    from message_harness import make_state

    codes = {
        **_codes([]),
        CONTRACT_A: _caller([(CALL, CONTRACT_B, READ)]),
        CONTRACT_A2: _caller([(CALL, CONTRACT_B, TRANSIENT)]),
    }
    accounts = {
        address: {"balance": CONTRACT_BALANCE, "code": code, "storage": STORAGE.get(address, {})}
        for address, code in codes.items()
    }
    state = first = make_state(vm_class, accounts)
    context = CancunTransactionContext(gas_price=GAS_PRICE, origin=Address(SENDER))
    outputs = []
    steps: list[bytes | str] = [CONTRACT_A2, CONTRACT_A, "swap", CONTRACT_A]
    if swap == "alternating":
        steps = [CONTRACT_A2, "swap", CONTRACT_A2, CONTRACT_A2, "back", CONTRACT_A]
    for to in steps:
        if to == "back":
            state = first
            continue
        if to == "swap":
            if swap == "recreated":
                state._transient_storage = None
            else:
                moved = type(state)(state._db, state.execution_context, state.state_root)
                moved._account_db = state._account_db
                state = moved
            continue
        assert isinstance(to, bytes)
        message = Message(
            gas=1_000_000, to=Address(to), sender=Address(SENDER), value=0, data=b"", code=codes[to]
        )
        computation = state.computation_class.apply_message(state, message, context)
        assert computation.is_success
        outputs.append(bytes(computation.output))
    return outputs


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
@pytest.mark.parametrize("swap", ["recreated", "moved", "alternating"])
def test_a_kept_table_does_not_answer_for_a_new_transient_storage(backend: str, swap: str) -> None:
    """A stamp handed out for one transient storage vouches for no other: after the
    swap, B's kept table must not answer TLOAD with the other storage's value."""
    expected = _outputs_of_messages(CancunVM, swap)
    assert expected[-2] != expected[-1]  # the storage read last holds another value
    assert _outputs_of_messages(_vm(backend), swap) == expected


# Q: called by the transaction (a top-level frame, which keeps no table of its own),
# runs B's code on its account twice and writes its transient slot 0 in between.
_Q = asm(
    TRANSIENT, 248, "SHL", 0, "MSTORE",
    0, 0, 1, 0, _word(CONTRACT_B), "GAS", "DELEGATECALL", "POP",
    555, 0, "TSTORE",
    READ, 248, "SHL", 0, "MSTORE",
    32, 0, 1, 0, _word(CONTRACT_B), "GAS", "DELEGATECALL", "POP",
    32, 0, "RETURN",
)  # fmt: skip


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_transient_storage_written_between_two_frames_is_read_again(backend: str) -> None:
    codes = {**_codes([]), CONTRACT_A: _Q}
    expected = execute(CancunVM, codes, storage={CONTRACT_A: {0: 5, 1: 11}})
    assert int.from_bytes(expected.output, "big") == 5 + 12 + 555
    assert execute(_vm(backend), codes, storage={CONTRACT_A: {0: 5, 1: 11}}) == expected


def _two_transactions(vm_class: Any, code_a: bytes) -> list[tuple[int, bytes]]:
    """Two transactions in one block, each calling A; (gas used, output) of each, and the
    state root after both."""
    state: dict[Any, Any] = {
        SENDER: {"balance": SENDER_BALANCE, "nonce": 0, "code": b"", "storage": {}}
    }
    for address, code in {**_codes([]), CONTRACT_A: code_a}.items():
        state[address] = {
            "balance": CONTRACT_BALANCE,
            "nonce": 1,
            "code": code,
            "storage": STORAGE.get(address, {}),
        }
    chain_class = MiningChain.configure(
        __name__="TwoTx", vm_configuration=((0, vm_class),), chain_id=1
    )
    chain = chain_class.from_genesis(AtomicDB(), dict(_GENESIS), state)
    header = chain.create_header_from_parent(
        chain.get_canonical_head(), timestamp=_GENESIS["timestamp"] + BLOCK_INTERVAL
    )
    vm = chain.get_vm(header)
    results = []
    for nonce in (0, 1):
        tx = vm.create_unsigned_transaction(
            nonce=nonce,
            gas_price=GAS_PRICE,
            gas=1_000_000,
            to=Address(CONTRACT_A),
            value=0,
            data=b"",
        ).as_signed_transaction(SENDER_KEY)
        receipt, computation = vm.apply_transaction(vm.get_header(), tx)
        vm.state.lock_changes()
        results.append((receipt.gas_used, bytes(computation.output)))
    results.append((0, bytes(vm.state.make_state_root())))
    return results


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_a_kept_table_does_not_outlive_its_transaction(backend: str) -> None:
    """The second transaction reads B's slots cold again, with the first one's writes
    as their original values: the same gas and state as py-evm."""
    code_a = _caller([(CALL, CONTRACT_B, INCREMENT), (CALL, CONTRACT_B, READ)])
    expected = _two_transactions(CancunVM, code_a)
    assert expected[0][1] != expected[1][1]  # the second saw the first one's increment
    assert _two_transactions(_vm(backend), code_a) == expected


def _reader(count: int) -> bytes:
    """Reads slots 0..count-1 and STOPs."""
    return asm(*[item for slot in range(count) for item in (slot, "SLOAD", "POP")], "STOP")


@pytest.mark.parametrize(("backend", "module"), [("llvm", builtin_bridge), ("wasm", runtime)])
@pytest.mark.parametrize("slots", [20, KEPT_ENTRIES_LIMIT + 8])
def test_only_small_tables_are_kept(
    backend: str, module: Any, slots: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame that adopts a table checks every entry for held-back writes at its end:
    a table of more than KEPT_ENTRIES_LIMIT entries is not kept (or twenty thousand
    cheap calls after one wide one would each pay for thousands of entries)."""
    crossings = _count_sload_crossings(module, monkeypatch)
    codes = {CONTRACT_A: _caller([(CALL, CONTRACT_B, READ)] * 2), CONTRACT_B: _reader(slots)}
    expected = execute(CancunVM, codes, gas=3_000_000)
    assert execute(_vm(backend), codes, gas=3_000_000) == expected
    kept = slots <= KEPT_ENTRIES_LIMIT
    assert len(crossings) == (slots if kept else 2 * slots)


@pytest.mark.parametrize("backend", ["wasm"])
def test_an_executable_whose_declines_takes_no_depth_still_runs(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher passes the next frame's depth to ``declines``; an executable
    of the protocol's older form (no argument) is asked without it."""
    asked: list[bool] = []

    def declines(self: Any) -> None:
        asked.append(True)

    monkeypatch.setattr(WasmExecutable, "declines", declines)
    codes = _codes(SEQUENCES["reads"])
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes, storage=STORAGE) == execute(CancunVM, codes, storage=STORAGE)
    assert len(asked) == 4  # A, then B three times


@pytest.mark.parametrize("backend", ["wasm"])
def test_a_type_error_inside_declines_reaches_the_caller_as_raised(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form of ``declines`` is decided from its signature: a ``TypeError`` of its
    own is not taken for the older form and retried without the depth."""
    error = TypeError("declines failed")
    calls: list[int] = []

    def declines(self: Any, depth: int) -> None:
        calls.append(depth)
        raise error

    monkeypatch.setattr(WasmExecutable, "declines", declines)
    codes = _codes(SEQUENCES["reads"])
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    with pytest.raises(TypeError) as raised:
        execute(vm_class, codes, storage=STORAGE)
    assert raised.value is error
    assert calls == [0]
