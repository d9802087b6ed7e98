"""The loop of a fuzz worker process: receive a task, run its program everywhere, reply.

A task names program ``index`` of the run's seed (the worker generates it:
generation is spread over the workers and nothing large crosses the pipe)
or carries an explicit program (shrinking, triage, replay).  The reply is a
:class:`~evmkiln.fuzz.results.ProgramReport`, or a string when something
other than an engine failed (a generator bug), so that the run goes on.

EVM calls nest up to 1024 frames and py-evm recurses in Python for each,
so the loop runs on a deep stack (:func:`evmkiln.deep_stack.on_deep_stack`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from evmkiln.deep_stack import on_deep_stack
from evmkiln.fuzz.compare import compare_program, describe
from evmkiln.fuzz.engines import load_reference, vm_class
from evmkiln.fuzz.generate import generate
from evmkiln.fuzz.program import Program

READY = "ready"
"""First message of a worker: engines are loaded, tasks may be sent (and timed)."""
FAILED = "failed"
"""First message of a worker whose engines cannot be loaded: ``(FAILED, reason)``."""


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker of a run loads: the engines, and how to generate programs."""

    reference: str
    candidates: tuple[str, ...]
    seed: int = 0
    families: tuple[str, ...] | None = None
    opt_level: int | None = None
    """Compile with this ``CompileOptions.opt_level`` (None: each backend's default)."""
    runs: int = 2
    """Runs of each program per candidate (see :func:`~evmkiln.fuzz.compare.compare_program`)."""


@dataclass(frozen=True)
class Task:
    """Program ``index`` of the spec's seed, or an explicit ``program``; on some engines."""

    id: int
    index: int | None = None
    program: Program | None = None
    engines: tuple[str, ...] | None = None
    """Candidates to run it on (a subset of the spec's); None: all of them."""

    def resolve(self, spec: WorkerSpec) -> Program:
        if self.program is not None:
            return self.program
        if self.index is None:
            raise ValueError("a task needs an index or a program")
        return generate(spec.seed, self.index, spec.families)


class _Engines:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.reference, self.observation = load_reference(spec.reference, spec.opt_level)
        self.candidates: dict[str, Any] = {
            name: vm_class(name, spec.opt_level) for name in spec.candidates
        }

    def run(self, task: Task) -> Any:
        program = task.resolve(self.spec)
        chosen = self.candidates
        if task.engines is not None:
            chosen = {name: self.candidates[name] for name in task.engines}
        return compare_program(program, self.reference, chosen, self.observation, self.spec.runs)


def _serve(conn: Connection, spec: WorkerSpec) -> None:
    # py-evm warns on every SELFDESTRUCT it runs; generated programs run many.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        engines = _Engines(spec)
    except Exception as exc:
        conn.send((FAILED, describe(exc)))
        return
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            reply: Any = engines.run(task)
        except Exception as exc:  # not an engine's failure (those are in the report): say so
            reply = f"worker error: {describe(exc)}"
        conn.send((task.id, reply))


def worker_main(conn: Connection, spec: WorkerSpec) -> None:
    """Entry point of a worker process."""
    on_deep_stack(lambda: _serve(conn, spec))
