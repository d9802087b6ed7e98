"""The runtime policy: when code is compiled, by which backend, where, and how much is kept.

Code runs first on py-evm's interpreter, which starts a frame in microseconds.
Compiling costs milliseconds to seconds per contract, and most contracts a
process meets run a few times (initcode runs exactly once), so compiling on
first sight makes a workload of many distinct contracts slower than the
interpreter alone.  A :class:`RuntimePolicy` compiles only code that has shown
it is hot, in the background, while it keeps running on the tier below:

* tier 0 is the interpreter;
* the *fast tier* (``fast_tier``, by default ``wasm`` under ``llvm``)
  compiles about ten times quicker than LLVM's optimising pipeline and
  already runs 1.2-8x faster than the interpreter;
* the *optimising tier* is the VM's backend (``make_vm_class(backend)``).

With no fast tier (``fast_tier=None``, or the backend is the fast tier
itself) there is one compiled tier: interpreter, then the backend.

Promotion rule (:class:`Threshold`): a code is queued for tier *k* once the
calls that ran it, or the gas spent in it, reach tier *k*'s threshold
(counted since the code was first seen, over all tiers):

    calls >= calls_k    or    gas >= gas_k + gas_per_byte_k * len(code)

Why both.  The call count is revmc's rule (compile after N observed
misses): cheap frames that run again and again (a token's ``transfer``)
are worth compiling even though each spends little gas, and a code run once
(initcode, most of a test suite's contracts) is never compiled.  The gas
rule is Monad's (interpret until the gas spent in a contract passes a
threshold that grows with its size): a frame that loops spends more time
interpreting than its compile would have cost long before it is called N
times.  The size term is the compile cost: every backend's compile time is
about linear in code length, so the gas threshold is the interpreter time
that pays for that compile (the ski-rental rule: stop renting once the rent
paid equals the price).  Measured on this machine, py-evm runs about 12 gas
per microsecond on ERC-20 transfers; a wasm compile in the compiler process
costs about 5 ms plus 20 us per byte (lowering, translation and Cranelift), an
LLVM -O2 compile about 20 ms plus 100-170 us per byte.  Hence the defaults:
60,000 + 250 gas per byte for the fast tier, 500,000 + 2,000 per byte for the
optimising one.  Gas is counted per frame from entry to exit and includes
the gas of the frame's child calls, so a dispatcher (a proxy, a router)
becomes hot with the code it calls.

The background compile never blocks the frame that triggered it: that frame,
and every frame of that code until the compile is installed, keeps running
on the tier it is on.  ``background=False`` compiles at the moment of
promotion instead, in the caller's thread, which makes promotions
deterministic (for tests).  ``mode="blocking"`` is today's behaviour:
every code is compiled by the backend on first sight, before it runs
(conformance, benchmarks of steady-state speed).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def default_workers() -> int:
    """One compiler process per spare core (at least one, at most four).

    The caller's thread keeps one core busy running frames; compiles on the
    others.  More than four rarely pays: a compile is queued only when a code
    turns hot, and the queue is empty most of the time.
    """
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class Threshold(BaseModel):
    """When a code is promoted to a tier: ``calls`` frames, or ``gas + gas_per_byte * len(code)``.

    Either condition promotes; ``None`` turns that condition off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: int | None = Field(default=8, ge=1)
    """Frames run (on any tier) after which the code is promoted."""
    gas: int | None = Field(default=60_000, ge=0)
    """Gas spent in the code (all its frames, child calls included) that promotes
    a code of length 0; longer code needs ``gas_per_byte`` more per byte."""
    gas_per_byte: int = Field(default=250, ge=0)

    def gas_for(self, code_length: int) -> int | None:
        """The gas threshold of a code of ``code_length`` bytes (``None``: no gas rule)."""
        if self.gas is None:
            return None
        return self.gas + self.gas_per_byte * code_length


FAST_THRESHOLD = Threshold(calls=8, gas=60_000, gas_per_byte=250)
"""Fast tier: revmc's eight calls, or interpreter time that pays for a wasm compile."""
OPTIMISING_THRESHOLD = Threshold(calls=64, gas=500_000, gas_per_byte=2_000)
"""Optimising tier: eight times the calls, gas that pays for an LLVM -O2 compile."""

AUTO = "auto"


class RuntimePolicy(BaseModel):
    """How a VM class compiles code (``make_vm_class(..., runtime=RuntimePolicy())``).

    The defaults are the recommended policy for applications; see the module
    docstring for the promotion rule and why.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["tiered", "blocking"] = "tiered"
    """``tiered``: interpret, promote hot code in the background.  ``blocking``:
    compile every code with the backend before it first runs (single backend)."""
    fast_tier: str | None = AUTO
    """Backend of the fast-compiling tier below the VM's backend.  ``"auto"``:
    ``wasm`` when the backend is ``llvm`` (and wasm is installed), none
    otherwise.  ``None``: interpreter, then the backend alone."""
    fast_tier_opt_level: int | None = Field(default=None, ge=0, le=3)
    """The fast tier's ``opt_level`` (``None``: the VM's options), e.g. ``0`` with
    ``fast_tier="llvm"`` for LLVM's fast code generator."""
    thresholds: tuple[Threshold, ...] = Field(
        default=(FAST_THRESHOLD, OPTIMISING_THRESHOLD), min_length=1
    )
    """Promotion thresholds of the compiled tiers, lowest tier first.  With one
    compiled tier, the first applies; a missing entry repeats the last one."""
    background: bool = True
    """Compile in the background (``False``: at the promotion, in the caller's
    thread: deterministic, for tests)."""
    workers: int = Field(default_factory=default_workers, ge=1)
    """Compiler processes (each driven by a thread of this process)."""
    max_pending: int = Field(default=64, ge=1)
    """Compiles queued or running at once.  A promotion beyond it waits in a backlog
    (oldest first, at most ``max_tracked`` codes) and is queued as compiles end
    (counted as ``rejected``); without ``background``, it is retried at the
    code's next frame."""
    max_code_size: int = Field(default=49_152, ge=1)
    """Longer code is never compiled (EIP-3860's initcode limit: deployed code
    is at most half of it)."""
    compile_seconds: float = Field(default=10.0, gt=0)
    """Compile-time budget of one compile, in CPU seconds of the compiler
    process (waiting for a core does not count; ten times as much wall time is
    the backstop): past it the compiler process is killed and the code stays
    on its lower tier for good (remembered, and with a persistent code cache
    remembered by later processes too)."""
    compile_memory_bytes: int | None = Field(default=4 << 30, ge=1 << 26)
    """Address-space limit of a compiler process (``None``: none)."""
    compile_initcode: bool = True
    """Whether creation code (a CREATE's or a creating transaction's initcode) may be
    compiled.  ``False``: it always runs on the interpreter, untracked.  Initcode
    runs once per deployment and spends its gas mostly on storage writes and
    on returning the code, which compiled code does not make faster, while gas
    counts it as hot; a test suite deploying the same contracts in every test
    would compile them for nothing."""
    compiler_nice: int = Field(default=10, ge=0, le=19)
    """How much lower than this process's the background compiles' CPU priority is
    (added to the nice value of the worker threads and their compiler processes;
    Linux, where nice is per thread; 0: the same).  A background compile must not
    slow the frames it exists to speed up: on a machine with a core to spare it
    gets that core whatever its priority, but where cores are shared (other
    processes, or one core) it would otherwise take its full share from the
    frames still interpreting.  Measured by ``evmkiln workload`` on 2 busy
    cores (interleaved runs): at the same priority the default policy's stream
    took 1.2x as long as stock py-evm's, its frames using less CPU than
    py-evm's but waiting for it; at 10 below, 0.95x as long."""
    cache_bytes: int = Field(default=256 << 20, ge=1)
    """Compiled code kept (bytes of machine code); least recently used dropped first."""
    idle_evict_seconds: float | None = Field(default=600.0, gt=0)
    """Compiled code not run for this long is dropped (``None``: never)."""
    max_tracked: int = Field(default=65_536, ge=1)
    """Codes whose calls and gas are counted; least recently seen forgotten first."""

    def threshold(self, tier: int) -> Threshold:
        """The threshold of compiled tier ``tier`` (1 = the lowest compiled tier)."""
        return self.thresholds[min(tier, len(self.thresholds)) - 1]

    def tier_backends(self, backend: str) -> tuple[str, ...]:
        """The compiled tiers' backend names, lowest first, under a VM backend named ``backend``."""
        if self.mode == "blocking":
            return (backend,)
        fast = self.fast_tier
        if fast == AUTO:
            from evmkiln.context.registry import available_backends

            fast = "wasm" if backend == "llvm" and "wasm" in available_backends() else None
        if fast is None or (fast == backend and self.fast_tier_opt_level is None):
            return (backend,)
        return (fast, backend)


TEST_SUITE = RuntimePolicy(
    thresholds=(
        FAST_THRESHOLD.model_copy(update={"calls": None}),
        OPTIMISING_THRESHOLD.model_copy(update={"calls": None}),
    ),
    compiler_nice=19,
    compile_initcode=False,
)
"""The default policy with the gas rule alone, compiling at the lowest CPU
priority: what the tool integrations use.

A test suite calls small contracts a few dozen times each, every call
spending little gas: the call-count rule compiles them (seven to ten codes
per pytest worker in web3.py's eth-tester suite, 1-2.5 s of compiler CPU
per worker on a machine whose cores the workers already fill), and their
compiled frames, which cost about as much as interpreted ones for such short
calls, pay none of it back.  The gas rule alone compiles only code that has
spent the interpreter time its compile costs (the ski-rental bound), so a
suite that runs no heavy code compiles nothing and one that does compiles
what pays.

A test suite also fills the cores (pytest-xdist starts a worker per core),
so a compile takes its CPU from the tests rather than from an idle core; at
the lowest priority it runs only while a worker waits.  web3.py's eth-tester
suite with two workers on two cores (three interleaved rounds each, wall
time): 9.4-9.8 s on stock py-evm against 9.7-10.3 s with compiles 10 below
the tests' priority (two to four compiles per worker, one or two still
running when the worker exits), and 10.0-10.3 s against 9.9-10.3 s at 19
below.

The codes a suite's workers promoted were all initcode: every test deploys
its contracts again (70-154 deployments of one 4 KB constructor per worker,
7-16 Mgas, mostly SSTOREs), and those compiles were still running when the
workers ended.  The test-suite policy leaves creation code interpreted."""

BLOCKING = RuntimePolicy(mode="blocking")
"""Compile before running, one backend: what ``make_vm_class`` does without a policy."""
