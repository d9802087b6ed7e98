"""Engines that return canned results, to test the bench machinery without running EVMs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evmkiln.bench.case import BenchCase
from evmkiln.bench.compile_timing import CompileLog
from evmkiln.bench.observation import SUCCESS, Observation
from evmkiln.fixtures.transaction import TransactionSpec
from evmkiln.fixtures.world import Env
from evmkiln.statetest.execution import LogEntry

LOG = LogEntry(address=b"\xcc" * 20, topics=(1, 2), data=b"\x01")


def observation(
    gas: int = 50_000,
    output: bytes = b"\x01",
    *,
    outcome: str = SUCCESS,
    detail: str | None = None,
    root: bytes | None = b"\x11" * 32,
    logs: tuple[LogEntry, ...] | None = (LOG,),
) -> Observation:
    return Observation(outcome, detail, gas, output, logs, root)


def case(name: str = "fake", data: bytes = b"") -> BenchCase:
    env = Env.model_validate(
        {
            "currentCoinbase": "0x" + "00" * 20,
            "currentGasLimit": "0x7fffffffffffffff",
            "currentNumber": "0x1",
            "currentTimestamp": "0x1",
        }
    )
    spec = TransactionSpec(
        nonce=0,
        gas_limit=1_000_000,
        to=b"\xcc" * 20,
        value=0,
        data=data,
        gas_price=0,
        max_fee_per_gas=None,
        max_priority_fee_per_gas=None,
        access_list=None,
        max_fee_per_blob_gas=None,
        blob_versioned_hashes=None,
        secret_key=None,
        sender=b"\x11" * 20,
    )
    return BenchCase(name, Path(f"{name}.json"), env, {}, spec)


@dataclass
class FakeRunner:
    results: list[Observation]
    seconds: float = 0.001
    compile_log: CompileLog | None = None
    raise_on: dict[int, BaseException] = field(default_factory=dict)
    calls: int = 0

    def run(self) -> tuple[Observation, float]:
        index = self.calls
        self.calls += 1
        if index in self.raise_on:
            raise self.raise_on[index]
        return self.results[min(index, len(self.results) - 1)], self.seconds

    def settle(self) -> None:
        pass

    def notes(self) -> list[str]:
        return []


@dataclass
class FakeEngine:
    name: str
    result: Observation
    seconds: float = 0.001

    def prepare(self, case: BenchCase) -> FakeRunner:
        return FakeRunner([self.result], self.seconds)
