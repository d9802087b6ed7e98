"""Reproducer files: one failing program, and what it did, as JSON.

A reproducer holds everything needed to run the program again without the
generator -- codes per address, pre-state storage, the transaction -- plus
where it came from (seed, index, family, backend, reference) and what the
two engines did when it was written.  The file is read back through a small
pydantic model, so a malformed reproducer is one line naming the file and
the offending field, never a traceback.

``xfail`` marks a reproducer kept in ``tests/fuzz/regressions/`` for a known,
still-open bug: the regression test expects it to fail, for that reason.
``kind: "sample"`` marks a program kept as a regression for its interest
rather than for a failure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evmkiln.fixtures.hexfields import Address, Hash32, HexBytes, HexInt, Uint256
from evmkiln.fixtures.loading import load_json_model
from evmkiln.fuzz.execute import Outcome
from evmkiln.fuzz.program import Program

FORMAT: Literal[1] = 1
MAX_RUNS = 1000
"""Most runs of one program per engine: each is a transaction on a fresh chain (up
to a second), so a larger count only ends at the run's timeout."""

Kind = Literal["mismatch", "error", "crash", "timeout", "sample"]


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class ReproducerError(Exception):
    """A reproducer file that cannot be read or does not match the model."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogModel(_Model):
    address: Address
    topics: list[HexInt]
    data: HexBytes


class OutcomeModel(_Model):
    success: bool
    error: Literal["", "revert", "halt"]
    detail: str = ""
    output: HexBytes
    gas_used: int = Field(ge=0)
    logs: list[LogModel]
    state_root: Hash32

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeModel:
        return cls.model_validate(
            {
                "success": outcome.success,
                "error": outcome.error,
                "detail": outcome.detail,
                "output": _hex(outcome.output),
                "gas_used": outcome.gas_used,
                "logs": [
                    {"address": _hex(a), "topics": list(t), "data": _hex(d)}
                    for a, t, d in outcome.logs
                ],
                "state_root": _hex(outcome.state_root),
            }
        )

    def outcome(self) -> Outcome:
        return Outcome(
            success=self.success,
            error=self.error,
            output=self.output,
            gas_used=self.gas_used,
            logs=tuple((log.address, tuple(log.topics), log.data) for log in self.logs),
            state_root=self.state_root,
            detail=self.detail,
        )


class TransactionModel(_Model):
    # Bounded as a transaction holds them: beyond, py-evm's range error stood for
    # the engines' verdict.
    to: Address
    calldata: HexBytes
    value: Uint256
    gas: int = Field(gt=0, lt=2**256)


class Reproducer(_Model):
    format: Literal[1] = FORMAT
    kind: Kind
    backend: str = Field(min_length=1)
    """The engine that failed (engines joined by commas when only all of them together did)."""
    reference: str = "pyevm"
    seed: int | None = None
    index: int | None = None
    family: str = ""
    transaction: TransactionModel
    runs: int = Field(default=1, ge=1, le=MAX_RUNS)
    """Runs of the transaction on the backend, each on a fresh chain with the same VM class
    (later runs find the code compiled); every run is compared with the reference."""
    codes: dict[Address, HexBytes]
    storage: dict[Address, dict[Uint256, Uint256]] = {}
    expected: OutcomeModel | None = None
    actual: OutcomeModel | None = None
    detail: str = ""
    original_size: int | None = None
    size: int | None = None
    xfail: str | None = None

    def program(self) -> Program:
        return Program(
            codes=dict(self.codes),
            calldata=self.transaction.calldata,
            value=self.transaction.value,
            gas=self.transaction.gas,
            to=self.transaction.to,
            storage={address: dict(slots) for address, slots in self.storage.items()},
            family=self.family,
        )

    @classmethod
    def of(
        cls,
        program: Program,
        *,
        kind: Kind,
        backend: str,
        reference: str,
        seed: int | None = None,
        index: int | None = None,
        expected: Outcome | None = None,
        actual: Outcome | None = None,
        detail: str = "",
        original_size: int | None = None,
        runs: int = 1,
    ) -> Reproducer:
        return cls.model_validate(
            {
                "kind": kind,
                "backend": backend,
                "reference": reference,
                "seed": seed,
                "index": index,
                "family": program.family,
                "transaction": {
                    "to": _hex(program.to),
                    "calldata": _hex(program.calldata),
                    "value": program.value,
                    "gas": program.gas,
                },
                "runs": runs,
                "codes": {_hex(a): _hex(code) for a, code in program.codes.items()},
                "storage": {
                    _hex(a): {hex(k): hex(v) for k, v in slots.items()}
                    for a, slots in program.storage.items()
                },
                "expected": None if expected is None else OutcomeModel.of(expected),
                "actual": None if actual is None else OutcomeModel.of(actual),
                "detail": detail,
                "original_size": original_size,
                "size": program.size(),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2) + "\n"


def load_reproducer(path: Path | str) -> Reproducer:
    """Read and validate a reproducer; any problem raises :class:`ReproducerError`."""
    return load_json_model(Path(path), Reproducer, ReproducerError, "reproducer")


def reproducer_name(kind: str, backend: str, seed: int | None, index: int | None) -> str:
    """A file name that says what failed where: ``mismatch-llvm-s1-i1234.json``."""
    engine = re.sub(r"[^A-Za-z0-9_.-]+", "_", backend)
    where = f"s{seed}-i{index}" if seed is not None and index is not None else "program"
    return f"{kind}-{engine}-{where}.json"


def write_reproducer(reproducer: Reproducer, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = reproducer_name(reproducer.kind, reproducer.backend, reproducer.seed, reproducer.index)
    path = directory / name
    path.write_text(reproducer.to_json())
    return path
