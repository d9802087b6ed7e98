"""Statements that run other code: calls of every kind, precompiles, CREATE and CREATE2.

Every interaction leaves its success flag (or new address) where the outcome
shows it, and often reads the return data back, so that a difference in a
child frame's result, gas or return data shows in the transaction's outcome.
"""

from __future__ import annotations

import random

from evmkiln.fuzz import values
from evmkiln.fuzz.asm import Item, Label, asm
from evmkiln.fuzz.precompile_inputs import precompile_input
from evmkiln.fuzz.writer import Statement, Writer

CALL_KINDS = ["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]
WITH_VALUE = frozenset({"CALL", "CALLCODE"})
SCRATCH = 0x200
"""Where call inputs and initcode are written before use."""
BUBBLE: list[Item] = [
    Label("bubble"), "RETURNDATASIZE", 0, 0, "RETURNDATACOPY", "RETURNDATASIZE", 0, "REVERT",
]  # fmt: skip
"""``require(success)``'s failure path: revert with the callee's return data."""


def call_gas(rng: random.Random) -> int | str:
    """A call's gas operand: all there is (``GAS``), a bound, or more than there is.

    Callees often end by burning what they were given (an exceptional halt, a
    spin), and ``GAS`` hands them 63/64 of the caller's: bounded amounts keep
    the caller alive past its calls more often.
    """
    r = rng.random()
    if r < 0.35:
        return "GAS"
    if r < 0.85:
        return rng.choice([0, 1, 100, 2300, 2301, 2600, 5000, 10_000, 30_000, 50_000, 100_000])
    return rng.choice([2**64 - 1, values.MAX_WORD, 2**32])


def precompile_gas(rng: random.Random) -> int | str:
    """Gas for a precompile call: a failing precompile burns all it was given, so mostly a bound."""
    r = rng.random()
    if r < 0.7:
        return rng.choice([3_000, 3_450, 10_000, 50_000, 100_000, 500_000])
    if r < 0.85:
        return "GAS"
    return rng.choice([0, 1, 100, 2_999])


def _gas(w: Writer, gas: int | str | None = None) -> None:
    gas = call_gas(w.rng) if gas is None else gas
    if isinstance(gas, str):
        w.op(gas)
    else:
        w.push(gas)


def _value(w: Writer) -> None:
    r = w.rng.random()
    if r < 0.6:
        w.push(0)
    elif r < 0.8:
        w.push(w.rng.choice([1, 2, 10**18]))
    elif r < 0.9:
        w.op(w.rng.choice(["CALLVALUE", "SELFBALANCE"]))
    else:
        w.push(values.MAX_WORD)  # more than any balance: the call fails without running


def _write_memory(w: Writer, data: bytes, at: int) -> None:
    """MSTORE ``data`` at ``at`` in 32-byte words (the last one padded with zeros)."""
    for start in range(0, len(data), 32):
        chunk = data[start : start + 32].ljust(32, b"\0")
        w.push(int.from_bytes(chunk, "big"))
        w.push(at + start)
        w.op("MSTORE")


def _call(
    w: Writer,
    kind: str,
    target: int | str,
    args: tuple[int, int],
    ret: tuple[int, int],
    gas: int | str | None = None,
) -> None:
    """Emit ``kind`` to ``target`` (a word, or an opcode such as ADDRESS); leaves the flag."""
    w.push(ret[1])
    w.push(ret[0])
    w.push(args[1])
    w.push(args[0])
    if kind in WITH_VALUE:
        _value(w)
    if isinstance(target, str):
        w.op(target)
    else:
        w.push(target)
    _gas(w, gas)
    w.op(kind)


def _after_call(w: Writer) -> None:
    """Keep the flag, then perhaps look at the return data."""
    rng = w.rng
    r = rng.random()
    if r < 0.1:  # require(success), bubbling the callee's revert data up
        w.op("ISZERO")
        w.ref("bubble")
        w.op("JUMPI")
        w.once("bubble", BUBBLE)
    else:
        w.store_result()
    r = rng.random()
    if r < 0.3:
        w.op("RETURNDATASIZE")
        w.store_result()
    elif r < 0.55:
        w.op("RETURNDATASIZE")
        w.push(rng.choice([0, 0, 1]))
        w.push(values.offset(rng))
        w.op("RETURNDATACOPY")
    elif r < 0.6:
        w.push(rng.choice([1, 32, 33, 64]))  # may read past the return data: a halt
        w.push(0)
        w.push(values.offset(rng))
        w.op("RETURNDATACOPY")


def call(w: Writer) -> None:
    """A call of any kind to a contract, this one, an EOA, an empty account or a precompile."""
    rng = w.rng
    w.interactions -= 1
    kind = rng.choice(CALL_KINDS)
    target: int | str = "ADDRESS" if rng.random() < 0.1 else values.address(rng)
    if rng.random() < 0.6:  # a selector-like word, then an argument
        w.push(rng.choice([rng.getrandbits(32) << 224, values.word(rng)]))
        w.push(SCRATCH)
        w.op("MSTORE")
        w.expr(1)
        w.push(SCRATCH + 4)
        w.op("MSTORE")
    args = (SCRATCH, rng.choice([0, 4, 36, 68, 100]))
    ret = (rng.choice([0, SCRATCH, 0x300]), rng.choice([0, 32, 64, 100]))
    _call(w, kind, target, args, ret)
    _after_call(w)


def callback(w: Writer) -> None:
    """Call back whoever called this frame (re-entrancy), or this contract itself."""
    w.interactions -= 1
    kind = w.rng.choice(CALL_KINDS)
    _call(w, kind, w.rng.choice(["CALLER", "ADDRESS"]), (0, w.rng.choice([0, 4, 32])), (0, 32))
    _after_call(w)


def precompile(w: Writer) -> None:
    """A precompile call with a plausible input (see :mod:`evmkiln.fuzz.precompile_inputs`)."""
    rng = w.rng
    w.interactions -= 1
    address = rng.randint(1, 10)
    data = precompile_input(rng, address)
    _write_memory(w, data, SCRATCH)
    size = len(data) if rng.random() < 0.85 else max(0, len(data) + rng.choice([-1, 1, 32]))
    kind = rng.choice(["STATICCALL", "STATICCALL", "CALL", "DELEGATECALL", "CALLCODE"])
    ret = (rng.choice([0, SCRATCH, 0x300]), rng.choice([0, 32, 64, 128]))
    _call(w, kind, address, (SCRATCH, size), ret, precompile_gas(rng))
    _after_call(w)
    if rng.random() < 0.6:
        w.push(ret[0])
        w.op("MLOAD")
        w.store_result()


def _runtime(rng: random.Random) -> bytes:
    """Small runtime code for a created contract."""
    return rng.choice(
        [
            b"",
            asm(42, 0, "MSTORE", 32, 0, "RETURN"),
            asm(1, 0, "SSTORE", "STOP"),
            asm("CALLER", "SELFDESTRUCT"),
            asm("CALLDATASIZE", 0, 0, "CALLDATACOPY", "CALLDATASIZE", 0, "REVERT"),
            bytes([0xEF, 0x00]),  # EIP-3541: never deployable
            bytes([rng.randrange(256) for _ in range(rng.randint(1, 12))]),
        ]
    )


def initcode(rng: random.Random) -> bytes:
    """Initcode that deploys, deploys something forbidden, reverts, halts or does more."""
    kind = rng.choices(range(10), [12, 12, 12, 12, 5, 4, 4, 5, 3, 5])[0]
    if kind < 4:
        runtime = _runtime(rng)
        n = len(runtime)
        # PUSH1 n PUSH1 10 PUSH0 CODECOPY PUSH1 n PUSH0 RETURN, then the runtime (at offset 10)
        return bytes([0x60, n, 0x60, 10, 0x5F, 0x39, 0x60, n, 0x5F, 0xF3]) + runtime
    if kind == 4:
        return asm(rng.choice([0, 5, 32]), 0, "REVERT")
    if kind == 5:
        return asm(rng.choice([24_577, 2**32, 24_576]), 0, "RETURN")  # over the code size limit
    if kind == 6:
        return asm("CALLER", "SELFDESTRUCT")  # created and destroyed in one transaction
    if kind == 7:
        return asm(7, 3, "SSTORE", 1, "TLOAD", 0, "MSTORE8", 1, 0, "RETURN")
    if kind == 8:
        return asm("INVALID")
    return bytes([rng.randrange(256) for _ in range(rng.randint(0, 24))])


def _create(w: Writer, code: bytes, salt: int | None) -> None:
    """CREATE (or CREATE2 with ``salt``) of ``code`` written at SCRATCH; leaves the address."""
    rng = w.rng
    _write_memory(w, code, SCRATCH)
    size = len(code) if rng.random() < 0.9 else rng.choice([49_153, 2**32, 0])
    if salt is not None:
        w.push(salt)
    w.push(size)
    w.push(SCRATCH)
    w.push(rng.choice([0, 0, 0, 1, values.MAX_WORD]))
    w.op("CREATE" if salt is None else "CREATE2")


def _use_created(w: Writer) -> None:
    """[address] -> []: store it, look at its code, or call it."""
    r = w.rng.random()
    if r < 0.4:
        w.store_result()
    elif r < 0.6:
        w.op("EXTCODESIZE")
        w.store_result()
    else:
        w.emit(32, 0, 0, 0, 0, "DUP6", "GAS", "CALL")  # [address, success]
        w.store_result()
        w.store_result()


def create(w: Writer) -> None:
    w.interactions -= 1
    salt = w.rng.choice([None, 0, 1, values.MAX_WORD])
    _create(w, initcode(w.rng), salt)
    _use_created(w)


def create2_twice(w: Writer) -> None:
    """The same CREATE2 twice: the second one collides with the first and yields 0."""
    w.interactions -= 1
    code = initcode(w.rng)
    salt = w.rng.choice([0, 7])
    for _ in range(2):
        _create(w, code, salt)
        w.store_result()


INTERACTIONS: dict[str, Statement] = {
    "call": call,
    "callback": callback,
    "precompile": precompile,
    "create": create,
    "create2_twice": create2_twice,
}
