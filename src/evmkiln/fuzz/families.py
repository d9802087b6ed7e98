"""Families of contracts: what the main contract of a program looks like, and its callees.

A family is a builder from a seeded ``random.Random`` to a :class:`Contract`.
Most are stack-aware writers with a profile of statement weights (loops,
storage, memory edges, calls...), two have the shape of compiler output
(Solidity's selector dispatch and internal calls, Vyper's bucket tables and
memory calling convention), and three ignore structure on purpose: snippets
with random stack shapes, raw bytes, and structured code with a few bytes
mutated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from evmkiln.codegen.evm.opcodes import OPCODES
from evmkiln.fuzz import values
from evmkiln.fuzz.asm import Addr, Item, Label, Mark, Ref, asm
from evmkiln.fuzz.execute import CONTRACT_B
from evmkiln.fuzz.interactions import INTERACTIONS, call_gas
from evmkiln.fuzz.snippets import assemble, random_snippets
from evmkiln.fuzz.statements import STATEMENTS, exit_frame
from evmkiln.fuzz.writer import Statement, Writer

ALL_STATEMENTS: dict[str, Statement] = {**STATEMENTS, **INTERACTIONS}


@dataclass(frozen=True)
class Contract:
    """A contract's code, and what it needs of the transaction."""

    code: bytes
    unbounded: bool = False
    """It may only stop by running out of gas: the transaction gets little."""
    calldata: bytes | None = None
    """The calldata it expects (a selector and arguments); None: any."""


Builder = Callable[[random.Random], Contract]

GENERAL: dict[str, float] = {
    "assign": 3, "store": 3, "stack_shuffle": 1, "sstore_sequence": 1, "log": 1, "copy": 1,
    "memory_edge": 0.3,
    "if": 2, "if_else": 1, "loop": 1, "memory_loop": 0.4, "storage_loop": 0.3,
    "function_call": 1.5, "recursion": 0.4, "jump_table": 0.5, "checked_arithmetic": 0.5,
    "memory_call": 0.2, "exit_if": 0.4, "fault": 0.15,
    "call": 1, "callback": 0.2, "precompile": 0.4, "create": 0.6, "create2_twice": 0.15,
}  # fmt: skip
"""Every statement, weighted as an ordinary contract mixes them."""


def _profile(**weights: float) -> dict[str, float]:
    return {**GENERAL, **weights}


PROFILES: dict[str, dict[str, float]] = {
    "loops": _profile(loop=4, memory_loop=2, storage_loop=2, checked_arithmetic=1.5),
    "control": _profile(function_call=5, recursion=2, jump_table=3, if_else=3, exit_if=1),
    "stack": _profile(stack_shuffle=6, function_call=3, checked_arithmetic=1),
    "storage": _profile(sstore_sequence=5, storage_loop=1.5, callback=1, store=5),
    "memory": _profile(memory_edge=5, copy=4, log=2),
    "calls": _profile(call=5, callback=1.5, precompile=1.5, fault=0),
    "precompiles": _profile(precompile=6, call=0.5),
    "create": _profile(create=4, create2_twice=1.5),
    "halts": _profile(fault=3, exit_if=3, memory_edge=1),
}
"""Families that are the general writer with some statements weighted up."""

VYPER: dict[str, float] = {
    **{name: GENERAL[name] for name in ("assign", "store", "sstore_sequence", "log", "if",
                                        "exit_if", "call", "precompile")},
    "memory_loop": 2, "checked_arithmetic": 3, "memory_call": 2,
}  # fmt: skip
"""What Vyper output is made of: memory-held loop counters and frames, checked arithmetic."""


def _writer(rng: random.Random, profile: Mapping[str, float], budget: int) -> Writer:
    return Writer(rng, ALL_STATEMENTS, profile, budget=budget)


def _finish(w: Writer, *extra: Iterable[Item]) -> Contract:
    code = asm(w.items, w.tail, *extra)
    return Contract(code, unbounded=w.unbounded)


def profiled(name: str) -> Builder:
    """A family that is the general writer under profile ``name``."""
    profile = PROFILES[name]

    def build(rng: random.Random) -> Contract:
        w = _writer(rng, profile, rng.randint(8, 36))
        if w.chance(0.3):
            w.emit(0x80, 0x40, "MSTORE")
        w.block(w.budget)
        exit_frame(w)
        return _finish(w)

    return build


def _selector_calldata(rng: random.Random, selectors: list[int], arguments: int) -> bytes:
    r = rng.random()
    if r < 0.8:
        head = rng.choice(selectors).to_bytes(4, "big")
    elif r < 0.9:
        head = rng.getrandbits(32).to_bytes(4, "big")  # no such function: the fallback
    else:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(4)))  # too short
    return head + b"".join(values.word(rng).to_bytes(32, "big") for _ in range(arguments))


def solidity(rng: random.Random) -> Contract:
    """solc's layout: free-memory pointer, callvalue check, selector dispatch, internal calls."""
    w = _writer(rng, GENERAL, rng.randint(12, 40))
    w.emit(0x80, 0x40, "MSTORE")
    if w.chance(0.5):  # non-payable: revert if any value came with the call
        w.emit("CALLVALUE", "DUP1", "ISZERO")
        w.ref("payable_ok")
        w.emit("JUMPI", 0, "DUP1", "REVERT")
        w.label("payable_ok")
        w.op("POP")
    w.emit(4, "CALLDATASIZE", "LT")
    w.ref("fallback")
    w.op("JUMPI")
    w.emit(0, "CALLDATALOAD", 0xE0, "SHR")  # [selector]
    selectors = sorted(rng.getrandbits(32) for _ in range(rng.randint(1, 4)))
    for index, selector in enumerate(selectors):
        w.op("DUP1")
        w.raw(b"\x63" + selector.to_bytes(4, "big"), 1)  # PUSH4, as solc writes selectors
        w.op("EQ")
        w.ref(f"external{index}")
        w.op("JUMPI")
    w.label("fallback")
    w.height = 0
    w.block(rng.randint(0, 2))
    exit_frame(w)
    share = max(1, w.budget // len(selectors))
    for index in range(len(selectors)):
        w.label(f"external{index}")
        w.height = 1
        w.block(share)
        if w.chance(0.7):  # return one ABI word
            w.expr(2)
            w.emit(0x80, "MSTORE", 32, 0x80, "RETURN")
        else:
            exit_frame(w)
    contract = _finish(w)
    calldata = _selector_calldata(rng, selectors, rng.randint(0, 3))
    return Contract(contract.code, contract.unbounded, calldata)


def vyper(rng: random.Random) -> Contract:
    """Vyper's layout: a bucket table read with CODECOPY picks the handler; memory frames."""
    w = _writer(rng, VYPER, rng.randint(10, 30))
    buckets = rng.randint(1, 4)
    selectors = []
    for bucket in range(buckets):
        selector = rng.getrandbits(32)
        selectors.append(selector - selector % buckets + bucket)
    w.emit(3, "CALLDATASIZE", "GT")
    w.ref("dispatch")
    w.op("JUMPI")
    w.label("fallback")
    w.height = 0
    exit_frame(w)
    w.label("dispatch")
    w.height = 0
    w.emit(0, "CALLDATALOAD", 0xE0, "SHR", 2, buckets, "DUP3", "MOD", 1, "SHL")
    w.ref("buckets")
    w.emit("ADD", 30, "CODECOPY", 0, "MLOAD", "JUMP")  # the handler's pc, read from the table
    share = max(1, w.budget // buckets)
    for bucket, selector in enumerate(selectors):
        w.label(f"bucket{bucket}")
        w.height = 1
        w.op("DUP1")
        w.raw(b"\x63" + selector.to_bytes(4, "big"), 1)
        w.emit("EQ", "ISZERO")
        w.ref("fallback")
        w.op("JUMPI")
        if w.chance(0.5):
            w.op("CALLVALUE")
            w.ref("fail")
            w.op("JUMPI")
        w.emit(36, "CALLDATASIZE", "LT")
        w.ref("fail")
        w.op("JUMPI")
        w.block(share)
        w.expr(1)
        w.emit(0x80, "MSTORE", 32, 0x80, "RETURN")
    w.once("fail", [Label("fail"), 0, 0, "REVERT"])
    table: list[Item] = ["INVALID", Mark("buckets")]
    table += [Addr(f"bucket{b}") for b in range(buckets)]
    contract = _finish(w, table)
    calldata = _selector_calldata(rng, selectors, rng.randint(0, 2))
    return Contract(contract.code, contract.unbounded, calldata)


def snippets(rng: random.Random) -> Contract:
    """The snippet language: random stack shapes, jumps to labels, calls, exits."""
    return Contract(assemble(random_snippets(rng, 80), CONTRACT_B), unbounded=True)


_DEFINED = sorted(OPCODES)


def raw_bytes(rng: random.Random) -> Contract:
    """Uniform random bytes, or a soup of defined opcodes with random immediates."""
    n = rng.randint(0, 200)
    if rng.random() < 0.5:
        return Contract(bytes(rng.getrandbits(8) for _ in range(n)), unbounded=True)
    out = bytearray()
    while len(out) < n:
        op = rng.choice(_DEFINED)
        out.append(op)
        if 0x60 <= op <= 0x7F:
            out += bytes(rng.getrandbits(8) for _ in range(op - 0x5F))
    return Contract(bytes(out[:n]), unbounded=True)


def mutant(rng: random.Random) -> Contract:
    """Structured code with a few bytes flipped, inserted, deleted or duplicated."""
    base = rng.choice([solidity, vyper, *(profiled(name) for name in ("control", "loops"))])(rng)
    code = bytearray(base.code)
    for _ in range(rng.randint(1, 4)):
        if not code:
            break
        at = rng.randrange(len(code))
        kind = rng.randrange(4)
        if kind == 0:
            code[at] = rng.getrandbits(8)
        elif kind == 1:
            code.insert(at, rng.choice(_DEFINED))
        elif kind == 2:
            del code[at]
        else:
            end = min(len(code), at + rng.randint(1, 16))
            code[at:at] = code[at:end]
    return Contract(bytes(code), unbounded=True, calldata=base.calldata)


def selfdestructs(rng: random.Random) -> Contract:
    """Self-destruction around a call: the callee destructs, is called again, is looked at."""
    w = _writer(rng, GENERAL, rng.randint(4, 16))
    w.block(rng.randint(0, 4))
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(["b", "c"])
        w.emit(0, 0, 0, 0, rng.choice([0, 1]), values.ADDRESS_WORDS[target], call_gas(rng), "CALL")
        w.store_result()
        w.push(values.ADDRESS_WORDS[target])
        w.op(rng.choice(["EXTCODESIZE", "BALANCE", "EXTCODEHASH"]))
        w.store_result()
    w.block(rng.randint(0, 4))
    if w.chance(0.5):
        w.push(values.address(rng))
        w.op("SELFDESTRUCT")
    else:
        exit_frame(w)
    return _finish(w)


MAIN_FAMILIES: dict[str, Builder] = {
    "solidity": solidity,
    "vyper": vyper,
    **{name: profiled(name) for name in PROFILES},
    "selfdestruct": selfdestructs,
    "snippets": snippets,
    "bytes": raw_bytes,
    "mutant": mutant,
}
"""The families of the contract a transaction is sent to."""

FAMILY_WEIGHTS: dict[str, float] = {
    "solidity": 3, "vyper": 2, "loops": 1.5, "control": 2, "stack": 1, "storage": 1.5,
    "memory": 1.5,
    "calls": 2, "precompiles": 1, "create": 1.5, "halts": 1, "selfdestruct": 1,
    "snippets": 1.5, "bytes": 1, "mutant": 1,
}  # fmt: skip

CALLEE_PATTERNS: list[bytes] = [
    asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", "CALLDATASIZE", 0, "RETURN"),  # echo
    asm(0x08C379A0 << 224, 0, "MSTORE", 32, 4, "MSTORE", 3, 36, "MSTORE",
        b"\x7f" + b"bad".ljust(32, b"\0"), 68, "MSTORE", 100, 0, "REVERT"),  # Error("bad")
    asm(1000, 0, "RETURN"),  # a large return of zeros
    asm("CALLER", 0, "SSTORE", 1, 0, "TSTORE", "STOP"),  # writes: a halt under STATICCALL
    asm("CALLER", "SELFDESTRUCT"),
    asm("ADDRESS", "SELFDESTRUCT"),
    asm(0, "CALLDATALOAD", 1, "ADD", 0, "MSTORE", 32, 0, "RETURN"),
    asm("GAS", 0, "MSTORE", 32, 0, "LOG0", 32, 0, "RETURN"),
    asm(Label("spin"), Ref("spin"), "JUMP"),  # all the gas it is given
    asm(0, 0, 0, 0, 0, "CALLER", "GAS", "CALL", 0, "MSTORE", 32, 0, "RETURN"),  # calls back
]  # fmt: skip
"""Callees as people write them by hand: echo, revert with a reason, write, destruct, spin."""

CALLEE: dict[str, float] = {
    "assign": 3, "store": 3, "sstore_sequence": 1, "log": 1, "copy": 1, "if": 1, "loop": 0.5,
    "function_call": 0.5, "exit_if": 0.5, "fault": 0.1, "call": 0.3, "callback": 0.3,
    "precompile": 0.2, "create": 0.2,
}  # fmt: skip


def callee(rng: random.Random) -> Contract:
    """A contract the main one calls: a hand-written pattern, a short program, or odd code."""
    r = rng.random()
    if r < 0.07:
        return Contract(b"")
    if r < 0.3:
        code = rng.choice(CALLEE_PATTERNS)
        return Contract(code, unbounded=code == CALLEE_PATTERNS[8])
    if r < 0.37:
        return snippets(rng)
    if r < 0.42:
        return raw_bytes(rng)
    w = _writer(rng, CALLEE, rng.randint(2, 10))
    w.interactions = 1
    w.block(w.budget)
    exit_frame(w)
    return _finish(w)
