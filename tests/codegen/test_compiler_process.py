"""The compiler process: results come back, and no failure there reaches the caller."""

from __future__ import annotations

import errno
import math
import os
import threading
import time

import pytest

from evmkiln.codegen import compiler_process
from evmkiln.codegen.compiler_process import (
    CompileJobError,
    CompileLimits,
    CompilerCrashed,
    CompilerProcess,
    CompilerStartError,
    CompileTimeLimit,
)


@pytest.fixture
def compiler() -> CompilerProcess:
    process = CompilerProcess(CompileLimits(seconds=20, memory_bytes=2 << 30))
    yield process  # type: ignore[misc]
    process.close()


def test_a_job_runs_in_another_process(compiler: CompilerProcess) -> None:
    assert compiler.call("math:sqrt", 16.0) == 4.0
    child = compiler.call("compiler_jobs:pid")
    assert child != os.getpid()
    assert compiler.call("compiler_jobs:pid") == child  # the same child serves later jobs
    assert compiler.call("zlib:crc32", b"x" * 3_000_000) == __import__("zlib").crc32(
        b"x" * 3_000_000
    )


def test_an_abort_is_a_crash_report_and_the_next_job_gets_a_new_child(
    compiler: CompilerProcess,
) -> None:
    first = compiler.call("compiler_jobs:pid")
    with pytest.raises(CompilerCrashed, match="SIGABRT"):
        compiler.call("compiler_jobs:abort")
    second = compiler.call("compiler_jobs:pid")
    assert second != first
    assert compiler.restarts == 1


def test_a_job_past_its_cpu_time_limit_is_killed(compiler: CompilerProcess) -> None:
    start = time.monotonic()
    with pytest.raises(CompileTimeLimit, match=r"more than 0\.5 s of CPU time"):
        compiler.call("compiler_jobs:spin", 30, seconds=0.5)
    assert time.monotonic() - start < 20  # killed long before the job would end
    assert compiler.call("math:sqrt", 9.0) == 3.0


def test_a_job_that_stops_making_progress_is_killed_by_the_wall_backstop(
    compiler: CompilerProcess,
) -> None:
    start = time.monotonic()
    with pytest.raises(CompileTimeLimit, match=r"longer than 2 s"):
        compiler.call("compiler_jobs:sleep", 30, seconds=0.2)  # WALL_FACTOR x 0.2 s
    assert time.monotonic() - start < 10
    assert compiler.call("math:sqrt", 9.0) == 3.0


def test_waiting_does_not_count_against_the_cpu_limit(compiler: CompilerProcess) -> None:
    """A niced compiler process on a busy machine waits for a core: not its fault."""
    compiler.call("compiler_jobs:sleep", 2.5, seconds=1.0)  # 2.5 s of wall, no CPU
    # The limit is per job: earlier jobs' CPU time does not shrink the next one's.
    for _ in range(3):
        assert compiler.call("compiler_jobs:spin", 0.3, seconds=1.0) > 0


@pytest.mark.parametrize("seconds", [300_000.0, 1e12, math.inf])
def test_a_limit_longer_than_one_poll_can_wait_still_compiles(seconds: float) -> None:
    """The wall backstop (WALL_FACTOR times the limit) may exceed what ``poll`` takes in
    one call (about 24.8 days) or be infinite: jobs run as under any other limit."""
    compiler = CompilerProcess(CompileLimits(seconds=seconds))
    try:
        assert compiler.call("math:sqrt", 25.0) == 5.0
        assert compiler.call("math:sqrt", 36.0, seconds=seconds) == 6.0
        assert compiler.restarts == 0
    finally:
        compiler.close()


def test_a_wait_longer_than_one_poll_polls_again(
    compiler: CompilerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiler_process, "_POLL_MS_MAX", 50)
    assert compiler.call("compiler_jobs:sleep", 0.4, seconds=1.0) is None  # eight polls
    with pytest.raises(CompileTimeLimit, match=r"longer than 2 s"):
        compiler.call("compiler_jobs:sleep", 30, seconds=0.2)  # the deadline still holds


@pytest.mark.parametrize("seconds", [0, -1.0, math.nan])
def test_a_limit_that_is_not_positive_is_refused(compiler: CompilerProcess, seconds: float) -> None:
    with pytest.raises(ValueError, match="positive seconds"):
        CompileLimits(seconds=seconds)
    with pytest.raises(ValueError, match="positive seconds"):
        compiler.call("math:sqrt", 4.0, seconds=seconds)
    assert compiler.call("math:sqrt", 4.0) == 2.0


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_child_that_cannot_start_is_a_compile_failure_that_leaks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiler = CompilerProcess(CompileLimits(seconds=20))

    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    before = _open_descriptors()
    with monkeypatch.context() as patch:
        patch.setattr(compiler_process.subprocess, "Popen", no_processes)
        for _ in range(3):
            with pytest.raises(CompilerStartError, match="could not start"):
                compiler.call("math:sqrt", 4.0)
    assert _open_descriptors() <= before
    try:
        assert compiler.call("math:sqrt", 4.0) == 2.0  # once processes can start again
    finally:
        compiler.close()


def test_a_child_that_outlives_a_pipe_error_is_killed(
    compiler: CompilerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error reading the reply while the child still runs: the caller does not wait
    on the child for good, it is killed after EXIT_WAIT and reported."""
    monkeypatch.setattr(compiler_process, "EXIT_WAIT", 0.2)

    def failing_read(*args: object, **kwargs: object) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(CompilerProcess, "_read", staticmethod(failing_read))
        start = time.monotonic()
        with pytest.raises(CompilerCrashed, match="SIGKILL"):
            compiler.call("compiler_jobs:sleep", 30)
        assert time.monotonic() - start < 10
    assert compiler.call("math:sqrt", 9.0) == 3.0


def test_a_python_error_in_the_job_is_reported_with_its_type(compiler: CompilerProcess) -> None:
    with pytest.raises(CompileJobError, match="ValueError: math domain error"):
        compiler.call("math:sqrt", -1.0)
    with pytest.raises(CompileJobError, match="ModuleNotFoundError"):
        compiler.call("no_such_module_here:f")
    assert compiler.call("math:sqrt", 4.0) == 2.0
    assert compiler.restarts == 0  # a Python error does not cost the child


def test_memory_beyond_the_limit_fails_in_the_child(compiler: CompilerProcess) -> None:
    with pytest.raises(CompileJobError, match="MemoryError"):
        compiler.call("compiler_jobs:allocate", 3 << 30)
    assert compiler.call("compiler_jobs:allocate", 1 << 20) == 1 << 20


def test_kill_ends_a_job_in_flight(compiler: CompilerProcess) -> None:
    compiler.call("math:sqrt", 1.0)  # the child is up
    timer = threading.Timer(0.5, compiler.kill)
    timer.start()
    with pytest.raises(CompilerCrashed, match="SIGKILL"):
        compiler.call("compiler_jobs:sleep", 30)
    timer.join()
    assert compiler.call("math:sqrt", 1.0) == 1.0


def test_a_forked_process_starts_its_own_child(compiler: CompilerProcess) -> None:
    parent_child = compiler.call("compiler_jobs:pid")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked process
        try:
            os.write(write, str(compiler.call("compiler_jobs:pid")).encode())
        finally:
            os._exit(0)
    os.close(write)
    forked_child = int(os.read(read, 64))
    os.close(read)
    os.waitpid(pid, 0)
    assert forked_child != parent_child
    assert compiler.call("compiler_jobs:pid") == parent_child


def test_backends_with_the_same_limits_share_one_child() -> None:
    from evmkiln.codegen.compiler_process import shared_compiler
    from evmkiln.context.registry import get_backend

    limits = CompileLimits(seconds=30)
    assert shared_compiler(limits) is shared_compiler(CompileLimits(seconds=30))
    assert shared_compiler(limits) is not shared_compiler(limits, env={"X": "1"})
    assert shared_compiler(limits) is not shared_compiler(CompileLimits(seconds=31))
    first, second = get_backend("llvm"), get_backend("llvm")
    assert first.compiler is second.compiler  # type: ignore[attr-defined]
    wasm_a, wasm_b = get_backend("wasm"), get_backend("wasm")
    assert wasm_a.compiler is wasm_b.compiler  # type: ignore[attr-defined]
    assert wasm_a.compiler is not first.compiler  # type: ignore[attr-defined]


def test_a_reply_pipe_past_descriptor_1023_is_read(compiler: CompilerProcess) -> None:
    """A process holding over a thousand files (a wasm module each, sockets) still
    compiles: ``select`` refuses descriptors from 1024 on, the wait must not use it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1100
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    elif soft < wanted:
        pytest.skip(f"the descriptor limit ({hard}) is below {wanted}")
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert compiler.call("math:sqrt", 25.0) == 5.0
        assert compiler._child is not None and compiler._child.replies > 1023
    finally:
        for fd in held:
            os.close(fd)
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_error_while_waiting_discards_the_child(
    compiler: CompilerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's reply is left unread: a child kept would answer the next job with it
    (or, its pipe full, block both processes)."""
    first = compiler.call("compiler_jobs:pid")

    def interrupted(*args: object) -> bytes:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(CompilerProcess, "_receive", staticmethod(interrupted))
        with pytest.raises(KeyboardInterrupt):
            compiler.call("math:sqrt", 16.0)
    assert compiler._child is None
    assert compiler.call("math:sqrt", 49.0) == 7.0  # its own answer, from a new child
    assert compiler.call("compiler_jobs:pid") != first
