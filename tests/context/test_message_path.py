"""The lean message path: chains of compiled frames against stock py-evm, and its objects.

Compiled frames of the classes ``make_vm_class`` makes run their messages
through :mod:`evmkiln.context.message_path` and build their computations and
child messages in :mod:`evmkiln.context.lean_computation`; a tool's subclass
takes py-evm's path.  Either way every outcome must be py-evm's.
"""

from __future__ import annotations

import warnings
from typing import Any
from unittest import mock

import pytest
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth.vm.state import BaseState
from eth_utils.logging import DEBUG2_LEVEL_NUM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from message_harness import SENDER, A, addr, apply_message, forget_debug2, make_state

from evmkiln.context import make_vm_class
from evmkiln.context.lean_computation import child_message, new_computation, runs_lean
from evmkiln.context.state_class import direct_journal
from evmkiln.deep_stack import on_deep_stack
from evmkiln.fuzz.execute import CONTRACT_A, execute

LLVM = make_vm_class("llvm", fork="cancun", replay_inexact_halts=False)
WASM = make_vm_class("wasm", fork="cancun", replay_inexact_halts=False)

CALL_KINDS = {"call": 0xF1, "callcode": 0xF2, "delegatecall": 0xF4, "staticcall": 0xFA}
ENDINGS = ("return", "revert", "stop", "invalid", "selfdestruct", "out_of_gas")


def _push(value: int) -> bytes:
    size = max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + size]) + value.to_bytes(size, "big")


CREATE_KINDS = ("create", "create2", "create2_twice")
"""CREATE, CREATE2, and CREATE2 twice with one salt (the second collides)."""


def _prologue(index: int) -> bytes:
    """SSTORE(0, index + 1), SSTORE(1, 0), TSTORE(0, index + 1), LOG1(topic index)."""
    return (
        _push(index + 1)
        + b"\x5f\x55"
        + b"\x5f\x60\x01\x55"
        + _push(index + 1)
        + b"\x5f\x5d"
        + _push(index)
        + b"\x5f\x5f\xa1"
    )


def _ending(code: bytes, ending: str) -> bytes:
    """``code`` followed by the ending: RETURN or REVERT of memory's first 96 bytes,
    STOP, INVALID, SELFDESTRUCT(CALLER), or a loop until out of gas."""
    if ending == "return":
        return code + b"\x60\x60\x5f\xf3"
    if ending == "revert":
        return code + b"\x60\x60\x5f\xfd"
    if ending == "stop":
        return code + b"\x00"
    if ending == "invalid":
        return code + b"\xfe"
    if ending == "selfdestruct":
        return code + b"\x33\xff"
    here = len(code)  # out_of_gas: JUMPDEST; JUMP back to it
    return code + b"\x5b" + _push(here) + b"\x56"


def link_code(
    index: int,
    kind: str | None,
    value: int,
    gas: int | None,
    ending: str,
    *,
    call_self: bool = False,
) -> bytes:
    """One frame of a chain: write, log, maybe call the next link, then end as told.

    The prologue's writes (SSTORE(1, 0) is a refund where slot 1 was set) and
    log, then a call of ``kind`` to the next link with ``value`` and ``gas``
    (``None``: all of it) that asks for 32 bytes of return data
    (``call_self``: the same contract again), then the status and
    RETURNDATASIZE into memory, then the ending.  A create ``kind`` is
    :func:`create_link_code`.
    """
    if kind in CREATE_KINDS:
        return create_link_code(index, kind, value, ending)
    code = bytearray(_prologue(index))
    if kind is not None:
        code += b"\x60\x20\x5f\x5f\x5f"  # retSize 32, retOffset 0, argsSize 0, argsOffset 0
        if kind in ("call", "callcode"):
            code += _push(value)
        code += b"\x30" if call_self else b"\x73" + addr(0x1000 + index + 1)
        code += b"\x5a" if gas is None else _push(gas)
        code += bytes([CALL_KINDS[kind]])
        code += b"\x60\x20\x52"  # MSTORE(32, status)
        code += b"\x3d\x60\x40\x52"  # MSTORE(64, RETURNDATASIZE)
    return _ending(bytes(code), ending)


def create_link_code(index: int, kind: str, value: int, ending: str) -> bytes:
    """A link that creates a contract whose initcode continues the chain.

    The initcode is a calling link (its writes land in the new account, it
    calls the next link, and ``ending`` decides whether the create fails or
    deploys memory's first 96 bytes); this link copies it to memory at
    0x100, creates it with ``value`` (CREATE2 with salt 7: twice for
    ``create2_twice``, whose second create collides), stores each new
    address, and returns.
    """
    init = link_code(index, "call", 0, None, ending)
    create = _push(len(init)) + b"\x61\x01\x00" + _push(value)
    create = create + b"\xf0" if kind == "create" else b"\x60\x07" + create + b"\xf5"
    body = create + b"\x60\x20\x52"  # MSTORE(32, address)
    if kind == "create2_twice":
        body += create + b"\x60\x40\x52"  # MSTORE(64, address or 0)
    # CODECOPY(0x100, offset of the initcode, its size), the offset as a PUSH2.
    head_size = len(_prologue(index)) + len(_push(len(init))) + 3 + 3 + 1
    offset = head_size + len(body) + 4  # and RETURN(0, 96)
    code = (
        _prologue(index)
        + _push(len(init))
        + b"\x61"
        + offset.to_bytes(2, "big")
        + b"\x61\x01\x00"
        + b"\x39"
        + body
    )
    code = _ending(code, "return")
    assert len(code) == offset, (len(code), offset)
    return code + init


links = st.lists(
    st.tuples(
        st.sampled_from([*sorted(CALL_KINDS), *CREATE_KINDS]),
        st.sampled_from([0, 0, 1, 7]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=60_000)),
        st.sampled_from(ENDINGS),
    ),
    min_size=1,
    max_size=6,
)


def chain_accounts(chain: list[tuple[str, int, int | None, str]], last: str) -> dict[bytes, Any]:
    accounts: dict[bytes, Any] = {SENDER: {"balance": 10**18}}
    for index, (kind, value, gas, ending) in enumerate(chain):
        accounts[addr(0x1000 + index)] = {
            "code": link_code(index, kind, value, gas, ending),
            "balance": 10 if index % 2 else 0,
            "storage": {1: 5},
        }
    accounts[addr(0x1000 + len(chain))] = {
        "code": link_code(len(chain), None, 0, None, last),
        "storage": {1: 5},
    }
    return accounts


@pytest.mark.parametrize("vm_class", [LLVM, WASM], ids=["llvm", "wasm"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=links, last=st.sampled_from(ENDINGS), value=st.sampled_from([0, 3]))
def test_call_chains_match_pyevm(
    vm_class: Any, chain: list[tuple[str, int, int | None, str]], last: str, value: int
) -> None:
    """Calls of every kind and creates (failed initcode and CREATE2 collisions included),
    values, reverts, halts and out of gas at any depth: py-evm's outcome exactly."""
    accounts = chain_accounts(chain, last)
    kwargs = {"to": addr(0x1000), "value": value, "gas": 3_000_000, "persisted": True}
    expected = apply_message(CancunVM, accounts, **kwargs)
    before = vm_class.stats.frames_run_compiled
    assert apply_message(vm_class, accounts, **kwargs) == expected
    assert vm_class.stats.frames_run_compiled > before


def test_a_chain_to_depth_1024_matches_pyevm() -> None:
    # A contract that calls itself with all its gas; the deepest call finds the limit.
    recurse = link_code(0, "call", 0, None, "return", call_self=True)
    accounts = {SENDER: {"balance": 10**18}, addr(0x1000): {"code": recurse, "storage": {1: 5}}}
    kwargs = {"to": addr(0x1000), "gas": 10**14, "persisted": True}
    before = LLVM.stats.frames_run_compiled
    kiln = on_deep_stack(lambda: apply_message(LLVM, accounts, **kwargs))
    assert LLVM.stats.frames_run_compiled - before == 1025
    assert kiln == on_deep_stack(lambda: apply_message(CancunVM, accounts, **kwargs))


def _state_and_message(vm_class: Any) -> tuple[Any, Any, Any]:
    state = make_state(vm_class, {addr(0x1000): {"code": b"\x00"}})
    message = Message(
        gas=100_000, to=addr(0x1000), sender=SENDER, value=0, data=b"\x01", code=b"\x00"
    )
    return state, message, CancunTransactionContext(gas_price=1, origin=SENDER)


def test_a_lean_computation_is_the_one_the_constructor_builds() -> None:
    cls = LLVM.get_state_class().computation_class
    state, message, context = _state_and_message(LLVM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built = cls(state, message, context)
    lean = new_computation(cls, state, message, context)
    assert "code" not in lean.__dict__ and "_stack" not in lean.__dict__
    # Read on demand: the interpreter's parts, as the constructor makes them.
    assert type(lean.code) is type(built.code) and bytes(lean.code) == bytes(built.code)
    assert len(lean._stack) == len(built._stack) == 0
    assert len(lean._memory) == len(built._memory) == 0
    # py-evm's class-level defaults, held by the lean instance itself: the same values.
    defaults = {"_error", "_output", "return_data"}
    assert set(lean.__dict__) == set(built.__dict__) | defaults
    assert not defaults & set(built.__dict__)
    for name in defaults:
        assert getattr(lean, name) == getattr(built, name)
    assert lean.is_success and lean.output == built.output == b""
    meter, built_meter = lean._gas_meter, built._gas_meter
    assert type(meter) is type(built_meter)
    assert vars(meter) == vars(built_meter)
    for name in ("children", "accounts_to_delete", "beneficiaries", "_log_entries"):
        assert getattr(lean, name) == [] and getattr(lean, name) is not getattr(built, name)
    assert lean.data_floor_cost == built.data_floor_cost == 0
    assert state.is_address_warm(state.coinbase)


def test_a_child_skips_warming_a_coinbase_its_parent_warmed() -> None:
    """A child computation of the same class leaves the journal alone: the parent warmed
    the coinbase when it was made, in a checkpoint the child's is inside."""
    cls = LLVM.get_state_class().computation_class
    state, message, context = _state_and_message(LLVM)
    snapshot = state.snapshot()
    new_computation(cls, state, message, context)
    state.revert(state.snapshot())  # a sibling's revert keeps the parent's warming
    child_snapshot = state.snapshot()
    new_computation(cls, state, message, context, coinbase_warm=True)
    assert state.is_address_warm(state.coinbase)
    state.revert(child_snapshot)
    assert state.is_address_warm(state.coinbase)
    state.revert(snapshot)
    assert not state.is_address_warm(state.coinbase)


@pytest.mark.parametrize("backend", ["llvm", "wasm"])
def test_a_child_reading_the_coinbase_pays_the_warm_price(backend: str) -> None:
    """BALANCE(COINBASE) in a called frame, after a reverted call: py-evm's gas."""
    coinbase_balance = bytes.fromhex("4131505f5ff3")  # BALANCE(COINBASE); POP; RETURN(0, 0)
    reverts = bytes.fromhex("41315f5ffd")  # BALANCE(COINBASE); REVERT(0, 0)
    call = "5f5f5f5f5f73{:040x}5af150"
    caller = bytes.fromhex(call.format(0xB0) + call.format(0xC0) + "00")
    codes = {CONTRACT_A: caller, addr(0xB0): reverts, addr(0xC0): coinbase_balance}
    expected = execute(CancunVM, codes)
    vm_class = make_vm_class(backend=backend, interpret_on_compile_error=False, fork="cancun")
    assert execute(vm_class, codes) == expected


def _lean_and_built_messages(fields: dict[str, Any]) -> tuple[Any, Any]:
    """The child message of ``fields`` built lean and by ``prepare_child_message``; equal."""
    cls = LLVM.get_state_class().computation_class
    state, message, context = _state_and_message(LLVM)
    parent = new_computation(cls, state, message, context)
    lean = child_message(parent, fields)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built = parent.prepare_child_message(**fields)
    for name in Message.__slots__:
        assert getattr(lean, name, None) == getattr(built, name, None), name
    return lean, built


def test_a_child_message_is_the_one_prepare_child_message_builds() -> None:
    lean, _ = _lean_and_built_messages(
        {
            "gas": 5_000,
            "to": addr(0x2000),
            "sender": addr(0x1000),
            "value": 9,
            "data": b"\x02\x03",
            "code": b"\x5f\x00",
            "code_address": addr(0x3000),
            "is_static": True,
            "should_transfer_value": False,
            "is_delegation": True,
        }
    )
    assert lean.depth == 1 and lean.storage_address == addr(0x2000)
    assert lean.code_address == addr(0x3000) and lean.is_delegation


def test_only_the_class_make_vm_class_made_runs_lean() -> None:
    cls = LLVM.get_state_class().computation_class
    assert runs_lean(cls)
    tool_class = type("ToolComputation", (cls,), {})
    assert not runs_lean(tool_class)


def test_a_tools_subclass_takes_pyevms_path() -> None:
    # A tool overriding prepare_child_message sees every child message of
    # compiled frames; the class make_vm_class made does not call it at all.
    seen: list[int] = []
    base = make_vm_class("llvm", fork="cancun")
    base_computation = base.get_state_class().computation_class

    class Tool(base_computation):  # type: ignore[misc, valid-type]
        def prepare_child_message(self, *args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs["gas"])
            return super().prepare_child_message(*args, **kwargs)

    state_class = base.get_state_class().configure(computation_class=Tool)
    tool_vm = base.configure(_state_class=state_class)
    chain = [("call", 0, 20_000, "return")]
    accounts = chain_accounts(chain, "return")
    kwargs = {"to": addr(0x1000), "gas": 300_000, "persisted": True}
    expected = apply_message(CancunVM, accounts, **kwargs)
    assert apply_message(tool_vm, accounts, **kwargs) == expected
    assert seen == [20_000]
    seen.clear()
    assert apply_message(base, accounts, **kwargs) == expected
    assert seen == []


def test_a_create_message_is_the_one_prepare_child_message_builds() -> None:
    lean, _ = _lean_and_built_messages(
        {
            "gas": 7_000,
            "to": b"",
            "sender": addr(0x1000),
            "value": 2,
            "data": b"",
            "code": b"\x60\x00\x60\x00\xf3",
            "create_address": addr(0x4000),
        }
    )
    assert lean.is_create and lean.storage_address == addr(0x4000)
    assert lean.code_address == b"" and not lean.is_static and lean.should_transfer_value


EMPTY_TARGETS = (addr(0xE0A), addr(0xFEE1), addr(0x1001))
"""Accounts without code: one with a balance, one that does not exist, one with a nonce."""


def no_code_caller(calls: list[tuple[str, int, int]], ending: str) -> bytes:
    """Each call ``(kind, target index, value)`` to a target of :data:`EMPTY_TARGETS`
    with 32 bytes of memory as input and output; its status, RETURNDATASIZE and the
    new address of a create (``create``/``create2``: empty initcode) go to storage."""
    code = bytearray(b"\x60\x2a\x5f\x52")  # MSTORE(0, 42): the output must not overwrite it
    for number, (kind, target, value) in enumerate(calls):
        if kind == "create":  # CREATE(value, 0, 0)
            code += b"\x5f\x5f" + _push(value) + b"\xf0"
        elif kind == "create2":
            code += _push(number) + b"\x5f\x5f" + _push(value) + b"\xf5"
        else:
            code += b"\x60\x20\x5f\x60\x20\x5f"  # retSize 32, retOffset 0, argsSize 32, args 0
            if CALL_KINDS[kind] in (0xF1, 0xF2):
                code += _push(value)
            code += b"\x73" + EMPTY_TARGETS[target] + b"\x61\xff\xff" + bytes([CALL_KINDS[kind]])
        code += _push(2 * number + 16) + b"\x55"  # SSTORE(2n + 16, status or address)
        code += b"\x3d" + _push(2 * number + 17) + b"\x55"  # SSTORE(2n + 17, RETURNDATASIZE)
    return _ending(bytes(code), ending)


no_code_calls = st.lists(
    st.tuples(
        st.sampled_from([*sorted(CALL_KINDS), "create", "create2"]),
        st.integers(min_value=0, max_value=len(EMPTY_TARGETS) - 1),
        st.sampled_from([0, 1, 10**30]),
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("vm_class", [LLVM, WASM], ids=["llvm", "wasm"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=no_code_calls,
    ending=st.sampled_from(["return", "revert", "invalid"]),
    to_code=st.booleans(),
    value=st.sampled_from([0, 5]),
)
def test_messages_without_code_match_pyevm(
    vm_class: Any, calls: list[tuple[str, int, int]], ending: str, to_code: bool, value: int
) -> None:
    """Calls of every kind to accounts without code, and creates with empty initcode,
    with and without value (more than the caller has, too), from a compiled frame or as
    the top-level message: py-evm's outcome, settled without the interpreter."""
    accounts = {
        SENDER: {"balance": 10**18},
        addr(0x1000): {"code": no_code_caller(calls, ending), "balance": 100},
        EMPTY_TARGETS[0]: {"balance": 7},
        EMPTY_TARGETS[2]: {"nonce": 1},
    }
    to = addr(0x1000) if to_code else EMPTY_TARGETS[0]
    kwargs = {"to": to, "value": value, "gas": 3_000_000, "persisted": True}
    expected = apply_message(CancunVM, accounts, **kwargs)
    stats = vm_class.stats
    before = stats.frames_without_code, stats.frames_interpreted
    assert apply_message(vm_class, accounts, **kwargs) == expected
    # A call or create whose value exceeds the caller's balance fails before any frame.
    affordable = any(kind in ("delegatecall", "staticcall") or v <= 100 for kind, _, v in calls)
    if not to_code or affordable:
        assert stats.frames_without_code > before[0]
    assert stats.frames_interpreted == before[1]


def test_a_create_with_empty_initcode_matches_pyevm() -> None:
    accounts = {SENDER: {"balance": 10**18}}
    for value in (0, 9):
        expected = apply_message(CancunVM, accounts, initcode=b"", value=value)
        before = LLVM.stats.frames_without_code
        assert apply_message(LLVM, accounts, initcode=b"", value=value) == expected
        assert LLVM.stats.frames_without_code == before + 1


def test_a_message_opens_its_checkpoint_on_the_flat_state_directly() -> None:
    """A message that moves no value records, touches and commits on the account
    database, without the state's methods; one that moves value uses them."""
    state_class = LLVM.get_state_class()
    state = make_state(LLVM, {addr(0x1000): {"code": b"\x00"}})
    assert direct_journal(state) is state._account_db
    calls: list[str] = []

    class Counting(state_class):  # type: ignore[misc, valid-type]
        def touch_account(self, address: bytes) -> None:
            calls.append("touch")
            super().touch_account(address)

    counting_vm = LLVM.configure(_state_class=Counting)
    accounts = chain_accounts([("call", 0, 20_000, "return")], "return")
    kwargs = {"to": addr(0x1000), "gas": 300_000, "persisted": True}
    expected = apply_message(CancunVM, accounts, **kwargs)
    assert apply_message(counting_vm, accounts, **kwargs) == expected
    assert calls == ["touch", "touch"]  # a subclass's touch is not bypassed
    assert direct_journal(make_state(counting_vm, {})) is None
    assert apply_message(LLVM, accounts, **kwargs) == expected


@pytest.mark.parametrize(("ending", "line"), [("invalid", "ERROR"), ("return", "SUCCESS")])
def test_compiled_frames_log_as_pyevms_when_debug2_is_on(
    caplog: pytest.LogCaptureFixture, ending: str, line: str
) -> None:
    """With py-evm's computation logger at DEBUG2, a compiled frame enters and leaves
    its computation as the interpreter's does: the same lines, errors included."""
    FRAME_LINES = ("MESSAGE COMPUTATION STARTING", "COMPUTATION SUCCESS", "COMPUTATION ERROR")
    logger = LLVM.get_state_class().computation_class.logger
    accounts = chain_accounts([("call", 0, 40_000, ending)], ending)
    kwargs = {"to": addr(0x1000), "gas": 300_000, "persisted": True}

    def lines(vm_class: Any) -> list[str]:
        caplog.clear()
        apply_message(vm_class, accounts, **kwargs)
        # The computation's lines (not the interpreter's per-opcode ones), without the
        # error's text (compiled code may word an out-of-gas halt's amounts otherwise).
        return [
            r.getMessage().split(" | error: ")[0]
            for r in caplog.records
            if r.name == logger.name and r.getMessage().startswith(FRAME_LINES)
        ]

    forget_debug2(logger)
    try:
        with caplog.at_level(DEBUG2_LEVEL_NUM, logger=logger.name):
            expected = lines(CancunVM)
            ours = lines(LLVM)
    finally:
        forget_debug2(logger)
    assert sum(f"COMPUTATION {line}" in text for text in expected) == 2
    assert ours == expected


_OTHER_COINBASE = addr(0xBEEF)
_RETURN_COINBASE = bytes.fromhex("415f5260205ff3")  # MSTORE(0, COINBASE); RETURN(0, 32)


def test_a_tools_coinbase_override_is_the_coinbase_a_lean_computation_warms() -> None:
    """A state subclass overriding ``coinbase`` under the made computation class: the
    overridden coinbase is warm, as py-evm's constructor warms ``state.coinbase``."""
    override = {"coinbase": property(lambda self: _OTHER_COINBASE)}
    code = bytes.fromhex("41315000")  # BALANCE(COINBASE); POP; STOP
    accounts = {A: {"code": code}, _OTHER_COINBASE: {"balance": 1}}
    stock = CancunVM.configure(_state_class=type("S", (CancunVM.get_state_class(),), override))
    kiln = LLVM.configure(_state_class=type("S", (LLVM.get_state_class(),), override))
    assert apply_message(kiln, accounts) == apply_message(stock, accounts)


def test_py_evms_properties_stay_where_py_evm_defines_them() -> None:
    """A mixin placed after evmkiln's state class, and a later patch of py-evm's own
    class, both reach compiled frames: evmkiln's classes hold no copies."""
    coinbase = property(lambda self: _OTHER_COINBASE)
    mixin = type("CoinbaseMixin", (CancunState,), {"coinbase": coinbase})
    tool_state = type("ToolState", (LLVM.get_state_class(), mixin), {})
    assert tool_state.coinbase is coinbase
    made = apply_message(LLVM.configure(_state_class=tool_state), {A: {"code": _RETURN_COINBASE}})
    assert made.output[-20:] == _OTHER_COINBASE
    with mock.patch.object(BaseState, "coinbase", coinbase):
        patched = apply_message(LLVM, {A: {"code": _RETURN_COINBASE}})
    assert patched.output[-20:] == _OTHER_COINBASE
