"""Compiles in a child process, so that no compiler failure can take the caller down.

Compiled code comes from untrusted bytecode, and the native code generators
are C++ and Rust libraries loaded into the process: an internal assertion of
LLVM (``abort()``), a segmentation fault or an allocation that exhausts memory
would kill whatever process runs the compile, including the user's.  A
:class:`CompilerProcess` runs each compile job (a module-level function named
``"package.module:function"``, with picklable arguments and result) in a
long-lived child Python process with limits of its own:

* **memory**: the child's address space is capped (``RLIMIT_AS``), so an
  allocation beyond it fails there, not in the caller;
* **time**: a job may use its limit in CPU time, enforced by the kernel in
  the child (``RLIMIT_CPU``, see :mod:`evmkiln.codegen.compiler_worker`), and
  :data:`WALL_FACTOR` times as much wall time, after which the child is
  killed; either way the job fails with :class:`CompileTimeLimit`.  CPU time,
  because a compiler process runs niced beside the caller's frames: on a busy
  machine a cheap compile can wait long for a core, and must not be judged
  too expensive (and its code kept interpreted for good) for that;
* **crashes**: a child that dies while on a job (signal or exit) is reported
  as :class:`CompilerCrashed`, with the tail of what it wrote to stderr (an
  LLVM assertion names itself there).

Each of these errors is a :class:`CompilerProcessError`, an ordinary exception:
the dispatching VM runs such a code on the interpreter.  The next job starts
a fresh child.

Why a plain subprocess with a pipe rather than :mod:`multiprocessing`: the
caller may itself be a worker of a ``multiprocessing`` pool (the state-test
runner's), whose daemonic processes may not start children of their own; a
``subprocess.Popen`` child works from any process.  The protocol is a 4-byte
length and a pickle each way, over the child's stdin and a duplicate of its
stdout (its own fd 1 is pointed at stderr so that nothing a library prints can
corrupt a reply).  The child leaves when its stdin closes, so it never
outlives the caller.  After a ``fork`` the child belongs to the parent: a
forked process starts a child of its own on its first job.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

_HEADER = struct.Struct("<I")
_STDERR_TAIL = 2000
"""Characters of the child's stderr quoted in a crash report."""
DEFAULT_SECONDS = 60.0
WALL_FACTOR = 10.0
"""A job's wall-time backstop, in multiples of its CPU-time limit: catches a job
that stops making progress without computing (a deadlock, a stopped child)."""
DEFAULT_MEMORY_BYTES = 4 << 30
_POLL_MS_MAX = 2**31 - 1
"""``poll`` takes whole milliseconds up to INT_MAX (about 24.8 days): a longer
wait polls again until its deadline."""


def _checked_seconds(seconds: float | None) -> float | None:
    """``seconds`` if it is a time limit (positive; infinite is none), else ``ValueError``."""
    if seconds is not None and not seconds > 0:  # also NaN
        raise ValueError(f"a compile time limit must be positive seconds, not {seconds!r}")
    return seconds


def _poll_ms(timeout: float) -> int:
    """``timeout`` seconds as ``poll``'s milliseconds, at most :data:`_POLL_MS_MAX`."""
    ms = timeout * 1000
    return _POLL_MS_MAX if ms >= _POLL_MS_MAX else math.ceil(ms)


class CompilerProcessError(Exception):
    """A compile job failed in the child process (any reason); the code stays interpreted."""


class CompilerCrashed(CompilerProcessError):
    """The child died during a job: a native crash, an abort or the kernel's OOM killer."""


class CompilerStartError(CompilerProcessError):
    """The child could not be started (no descriptors or processes left, say)."""


class CompileTimeLimit(CompilerProcessError):
    """A job ran past its time limit; the child was killed."""


class CompileJobError(CompilerProcessError):
    """The job raised a Python exception in the child (named in the message)."""


@dataclass(frozen=True, slots=True)
class CompileLimits:
    """Limits of one compile job.

    ``seconds``: CPU time of the job in the child, and :data:`WALL_FACTOR` times
    as much wall time from sending it to its answer (None or infinite: no limit;
    a limit that is not positive is refused with ``ValueError``).
    ``memory_bytes``: the child's address space (``RLIMIT_AS``; None: no limit).
    The defaults leave room for the largest contracts the codegen budget
    admits (a few hundred MB of LLVM state) and stop a runaway compile long
    before it threatens the machine.
    """

    seconds: float | None = DEFAULT_SECONDS
    memory_bytes: int | None = DEFAULT_MEMORY_BYTES

    def __post_init__(self) -> None:
        _checked_seconds(self.seconds)


EXIT_WAIT = 5.0
"""Seconds a child whose reply pipe failed is given to end by itself before it is
killed: a pipe error on this side must not leave the caller waiting for good."""


def _exit_status(process: subprocess.Popen[bytes]) -> int:
    """``process``'s exit status, killed if it has not ended within :data:`EXIT_WAIT`."""
    try:
        return process.wait(timeout=EXIT_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class _Child:
    """One running child: its process, the protocol pipes and its stderr file."""

    def __init__(self, limits: CompileLimits, env: Mapping[str, str]) -> None:
        # Kept open for the child's life (closed in close()); append mode so that
        # truncating it between jobs does not leave the child writing past the end.
        self.stderr: IO[bytes] = tempfile.TemporaryFile(mode="a+b", buffering=0)  # noqa: SIM115
        reply_read = -1
        environment = {**os.environ, **env}
        environment["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        memory = "" if limits.memory_bytes is None else str(limits.memory_bytes)
        try:
            reply_read, reply_write = os.pipe()
            try:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "evmkiln.codegen.compiler_worker",
                        str(reply_write),
                        memory,
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=self.stderr,
                    pass_fds=(reply_write,),
                    env=environment,
                    close_fds=True,
                )
            finally:
                os.close(reply_write)
        except BaseException:
            # No child (out of descriptors or processes, say): nothing of it stays open.
            if reply_read >= 0:
                os.close(reply_read)
            self.stderr.close()
            raise
        self.replies = reply_read
        # poll, not select: select refuses descriptors from 1024 on, which a process
        # holding many files (a wasm module each, a server's sockets) reaches.
        self.poller = select.poll()
        self.poller.register(reply_read, select.POLLIN)
        self.pid = os.getpid()
        """The process that started the child: only it may talk to the child."""
        self.closed = False

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - _STDERR_TAIL))
            return self.stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def clear_stderr(self) -> None:
        self.stderr.seek(0)
        self.stderr.truncate()

    def close(self, kill: bool = False) -> None:
        if self.closed or self.pid != os.getpid():
            return  # closed already, or a forked copy: the child is the parent's to close
        self.closed = True
        stdin = self.process.stdin
        if kill:
            self.process.kill()
        try:
            if stdin is not None:
                stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.replies)
        self.stderr.close()


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "the compiler process stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the compiler process was killed by {name}"
    return f"the compiler process exited with status {returncode}"


class CompilerProcess:
    """A child process that runs compile jobs one at a time (thread-safe)."""

    def __init__(
        self, limits: CompileLimits | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        """``env``: variables set for the child on top of this process's environment
        (settings the child must share with this process, e.g. an engine's mode)."""
        self.limits = limits or CompileLimits()
        self.env = dict(env or {})
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self.jobs = 0
        """Jobs answered (successfully or with a Python error)."""
        self.restarts = 0
        """Children started after the first (one per crash or time limit)."""
        self._finalizer = weakref.finalize(self, CompilerProcess._close_child, [None])

    @staticmethod
    def _close_child(holder: list[_Child | None]) -> None:
        child = holder[0]
        if child is not None:
            child.close()

    def _running(self) -> _Child:
        child = self._child
        if child is not None and child.pid != os.getpid():
            child = None  # inherited through fork: start our own
        if child is None:
            if self._child is not None or self.jobs:
                self.restarts += 1
            try:
                child = _Child(self.limits, self.env)
            except OSError as exc:
                self._child = None
                raise CompilerStartError(f"the compiler process could not start: {exc}") from exc
            self._child = child
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, CompilerProcess._close_child, [child])
        return child

    def _discard(self, child: _Child, kill: bool) -> None:
        child.close(kill=kill)
        if self._child is child:
            self._child = None

    def call(self, target: str, *args: Any, seconds: float | None = None) -> Any:
        """Run ``target(*args)`` in the child and return its result.

        ``target`` is ``"module:function"``.  ``seconds`` overrides the time
        limit for this job.  Raises :class:`CompilerProcessError` subclasses.
        """
        limit = self.limits.seconds if seconds is None else _checked_seconds(seconds)
        payload = pickle.dumps((target, args, limit), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            child = self._running()
            child.clear_stderr()
            stdin = child.process.stdin
            assert stdin is not None
            try:
                stdin.write(_HEADER.pack(len(payload)))
                stdin.write(payload)
                stdin.flush()
                reply = self._receive(child, limit)
            except CompileTimeLimit:
                self._discard(child, kill=True)
                raise
            except (OSError, EOFError) as exc:
                returncode = _exit_status(child.process)
                tail = child.stderr_tail()
                self._discard(child, kill=False)
                if returncode == -signal.SIGXCPU and limit is not None:
                    raise CompileTimeLimit(
                        f"the compile used more than {limit:g} s of CPU time"
                    ) from exc
                detail = f": {tail}" if tail else ""
                raise CompilerCrashed(
                    f"{_describe_exit(returncode)} while running {target}{detail}"
                ) from exc
            except BaseException:
                # Anything else (an interrupt, an error of this side) leaves the job's
                # reply unread: a child kept would answer the next job with it, or fill
                # its pipe and block both processes for good.
                self._discard(child, kill=True)
                raise
            self.jobs += 1
        status, value = pickle.loads(reply)
        if status == "ok":
            return value
        raise CompileJobError(f"{target}: {value}")

    def _receive(self, child: _Child, limit: float | None) -> bytes:
        wall = None if limit is None else limit * WALL_FACTOR
        deadline = None if wall is None else time.monotonic() + wall
        header = self._read(child, _HEADER.size, deadline, wall)
        (size,) = _HEADER.unpack(header)
        return self._read(child, size, deadline, wall)

    @staticmethod
    def _read(child: _Child, size: int, deadline: float | None, limit: float | None) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = child.poller.poll(None if timeout is None else _poll_ms(timeout))
            if not ready:
                assert deadline is not None
                if time.monotonic() < deadline:
                    continue  # a wait longer than one poll can take
                raise CompileTimeLimit(f"the compile took longer than {limit:g} s")
            chunk = os.read(child.replies, min(remaining, 1 << 20))
            if not chunk:
                raise EOFError("the compiler process closed its reply pipe")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first job or after a crash)."""
        child = self._child
        if child is None or child.pid != os.getpid() or child.process.poll() is not None:
            return None
        return child.process.pid

    def kill(self) -> None:
        """Kill the child at once, even mid-job (from any thread): the job in flight
        fails with :class:`CompilerCrashed`.  For shutting down without waiting."""
        child = self._child
        if child is not None and child.pid == os.getpid():
            child.process.kill()

    def close(self) -> None:
        """Stop the child (a later job starts a new one)."""
        with self._lock:
            if self._child is not None:
                self._discard(self._child, kill=False)


_SHARED: dict[tuple[CompileLimits, tuple[tuple[str, str], ...]], CompilerProcess] = {}
_SHARED_LOCK = threading.Lock()


def shared_compiler(
    limits: CompileLimits | None = None, env: Mapping[str, str] | None = None
) -> CompilerProcess:
    """This process's compiler process for ``limits`` and ``env``, made on first use.

    Starting a child costs about 0.2 s (a Python interpreter importing LLVM or
    Cranelift), twenty times the compile of a small contract, and a backend
    is made for every VM class (each bench fixture, each test chain, each
    tool that builds its own).  Backends with the same limits share one child
    instead; it runs their jobs one at a time, as it would for one backend's
    threads.  A crash, a time limit or ``close`` costs every sharer only the
    job in flight: the next job starts a new child.
    """
    key = (limits or CompileLimits(), tuple(sorted((env or {}).items())))
    with _SHARED_LOCK:
        compiler = _SHARED.get(key)
        if compiler is None:
            compiler = _SHARED[key] = CompilerProcess(key[0], dict(key[1]))
        return compiler


__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_SECONDS",
    "CompileJobError",
    "CompileLimits",
    "CompileTimeLimit",
    "CompilerCrashed",
    "CompilerProcess",
    "CompilerProcessError",
    "shared_compiler",
]
