"""The child side of :class:`evmkiln.codegen.compiler_process.CompilerProcess`.

Run as ``python -m evmkiln.codegen.compiler_worker REPLY_FD [MEMORY_BYTES]``:
reads jobs (4-byte length, pickle of ``("module:function", args, cpu_seconds)``)
from stdin, answers each on ``REPLY_FD`` with ``("ok", result)`` or
``("error", "Type: message")``, and exits when stdin closes.  A native crash
simply ends the process; the parent reports it.

A job's time limit is CPU time, enforced here by the kernel: the soft
``RLIMIT_CPU`` is set to what the process has used so far plus the job's
allowance (whole seconds, rounded up), so a job that computes past it gets
``SIGXCPU`` and the process ends; the parent reports the limit.  Time spent
waiting for a core -- the process runs at a lower priority than the
caller's frames, on a machine that may be busy -- does not count.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
import resource
import signal
import struct
import sys
from typing import Any, BinaryIO

_HEADER = struct.Struct("<I")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _resolve(target: str) -> Any:
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _limit_memory(memory: str) -> None:
    if memory:
        limit = int(memory)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CPU_SECONDS_MAX = 1 << 40
"""CPU seconds beyond which a job's limit is none (tens of thousands of years):
what ``setrlimit`` takes is bounded, and an infinite limit has no whole seconds."""


def _limit_cpu(seconds: float | None) -> None:
    """Allow the next job ``seconds`` of CPU time (``None`` or very many: no limit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    allowed = None if seconds is None else _cpu_used() + seconds
    soft = hard if allowed is None or not allowed < _CPU_SECONDS_MAX else math.ceil(allowed)
    if hard != resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def serve(reply_fd: int, memory: str) -> None:
    """Answer jobs until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches it
    os.dup2(2, 1)  # stray prints go to stderr, never into a reply
    _limit_memory(memory)
    requests = sys.stdin.buffer
    with os.fdopen(reply_fd, "wb") as replies:
        while True:
            header = _read_exactly(requests, _HEADER.size)
            if header is None:
                return
            (size,) = _HEADER.unpack(header)
            body = _read_exactly(requests, size)
            if body is None:
                return
            try:
                target, args, cpu_seconds = pickle.loads(body)
                _limit_cpu(cpu_seconds)
                try:
                    reply: tuple[str, Any] = ("ok", _resolve(target)(*args))
                finally:
                    _limit_cpu(None)
                payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # reported to the parent, which raises it there
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            replies.write(_HEADER.pack(len(payload)))
            replies.write(payload)
            replies.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
