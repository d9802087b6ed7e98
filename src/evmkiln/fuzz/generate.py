"""Program ``index`` of seed ``seed``: a small world of contracts and one transaction.

Generation is a pure function of ``(seed, index)``: each program seeds its own
``random.Random`` from both (string seeds are hashed with SHA-512, so this
does not depend on ``PYTHONHASHSEED``), so any program of a run can be
rebuilt on its own -- by a worker process, or by the parent when the worker
that ran it died -- and runs split over processes in any order stay
reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from evmkiln.fuzz import values
from evmkiln.fuzz.execute import CONTRACT_A, CONTRACT_B, CONTRACT_C, intrinsic_gas
from evmkiln.fuzz.families import FAMILY_WEIGHTS, MAIN_FAMILIES, callee
from evmkiln.fuzz.program import Program

FAMILIES = tuple(MAIN_FAMILIES)
"""Names of the main-contract families, for ``--family`` and coverage reports."""

MAX_GAS = 3_000_000
UNBOUNDED_GAS = 150_000
"""Gas above the intrinsic cost for programs that may loop until they run out."""


def program_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"evmkiln-fuzz:{seed}:{index}")


def _calldata(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.2:
        return b""
    words = b"".join(values.word(rng).to_bytes(32, "big") for _ in range(rng.randint(1, 4)))
    if r < 0.3:
        return words[: rng.randrange(len(words))]  # not a whole number of words
    return words


def _storage(rng: random.Random) -> dict[bytes, dict[int, int]]:
    """Pre-existing slots, so that writes meet non-zero originals (other gas and refund cases)."""
    storage: dict[bytes, dict[int, int]] = {}
    for address in (CONTRACT_A, CONTRACT_B, CONTRACT_C):
        if rng.random() < 0.4:
            slots = {rng.randrange(6): rng.choice([1, 2, values.word(rng)]) for _ in range(3)}
            storage[address] = {k: v for k, v in slots.items() if v}
    return {address: slots for address, slots in storage.items() if slots}


def _gas(rng: random.Random, calldata: bytes, unbounded: bool) -> int:
    floor = intrinsic_gas(calldata)
    if unbounded:
        return floor + rng.randint(0, UNBOUNDED_GAS)
    r = rng.random()
    if r < 0.15:
        return floor + rng.randint(0, 30_000)  # tight: out of gas anywhere
    if r < 0.8:
        return floor + rng.randint(50_000, 1_200_000)
    return rng.randint(1_200_000, MAX_GAS)


def generate(seed: int, index: int, families: Sequence[str] | None = None) -> Program:
    """Program ``index`` of run ``seed``; its main contract from one of ``families`` (or any)."""
    rng = program_rng(seed, index)
    names = list(families) if families else list(FAMILIES)
    family = rng.choices(names, [FAMILY_WEIGHTS[name] for name in names])[0]
    main = MAIN_FAMILIES[family](rng)
    codes = {CONTRACT_A: main.code}
    unbounded = main.unbounded
    for address in (CONTRACT_B, CONTRACT_C) if rng.random() < 0.8 else (CONTRACT_B,):
        other = callee(rng)
        codes[address] = other.code
        unbounded |= other.unbounded
    calldata = main.calldata if main.calldata is not None else _calldata(rng)
    value = rng.choice([0, 0, 0, 0, 0, 1, 10**18])
    return Program(
        codes=codes,
        calldata=calldata,
        value=value,
        gas=_gas(rng, calldata, unbounded),
        storage=_storage(rng),
        family=family,
    )
