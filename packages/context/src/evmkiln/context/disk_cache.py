"""The persistent code cache: code compiled by one process, loaded by the next.

Every process used to compile every contract again; a compile takes
milliseconds to seconds where loading the same machine code from disk takes
about a tenth of a millisecond.  So after a successful JIT compile the code
is also written, as an ahead-of-time artifact, to a cache directory, and a
later process that meets the same code loads it instead of compiling.

One format, one loader.  An entry *is* an artifact, written by the backend's
own ``save`` and read by its own ``load`` through
:func:`~evmkiln.context.artifact_store.load_artifact`, exactly as an
``evmkiln compile`` directory is: the metadata is checked field by field and
the payload by size and SHA-256 before anything is mapped or run.  Any
entry directory can be handed to ``make_vm_class(artifacts=...)`` as is.

Layout, under the cache directory::

    <backend>/<fork>/<key>/<code hash>/<code hash><suffix>   (+ the payload)

``<key>`` is a digest of everything the backend's loader compares with the
running process (:meth:`~evmkiln.codegen.backend.KeyedArtifacts.artifact_fields`:
format, evmkiln and compiler versions, a fingerprint of the compiler's sources,
CPU and engine settings, compile options).  Code built for another build or
machine is therefore simply another key, never looked up, rather than a
refusal at every lookup; it ages out through eviction.  The key needs the
backend imported; under a tiered runtime the backend is not imported until
it is needed (:class:`~evmkiln.context.registry.DeferredBackend`), so until
then a lookup first asks whether the code has an entry under *any* key (a
listing of the fork's directory, a ``stat`` per key) and computes the key
only if it has.  An entry that is found
under this process's key and still fails the loader's checks is corrupt: it
is refused with the loader's message (logged, counted in
``stats.cache_rejected``), removed, and the code is compiled again.  A lookup
never raises.

Concurrency.  Several processes may use one directory at once.  An entry is
built in a temporary directory beside its final place (``.tmp-*``) and moved
there with one ``rename``, so a reader sees a whole entry or none; when two
processes write the same code, the first rename wins and the other discards
its copy.  Entries are removed the same way round (renamed aside, then
deleted).  Files are never rewritten in place: a shared library that another
process has mapped must not change under it.

Writing costs a second compile: the JIT's machine code lives in memory, in a
form (MCJIT's large code model; wasmtime's fast tier) that is not the
artifact's.  So writes run on a background thread, one compile at a time,
and never delay the frame that asked for the code.  Queued writes go on
after the main thread has finished, for at most :data:`EXIT_WAIT_SECONDS`
(plus the write under way); what is left is written by a later process.
The artifact is built by the optimising code generator, as ``evmkiln
compile`` builds it: a later process loads better code than the JIT's first
tier.

Size.  The directory is capped (:data:`DEFAULT_MAX_BYTES`,
``EVMKILN_CACHE_MAX_BYTES``); after writes the least recently used entries are
removed until it is under :data:`LOW_WATER` of its cap.  Use is the entry
directory's modification time, touched on every load.

Configuration: ``EVMKILN_CACHE=off`` turns the cache off,
``EVMKILN_CACHE_DIR`` moves it; both can be overridden per VM class
(``make_vm_class(persistent_cache=..., code_cache_dir=...)``).  The default
directory is ``platformdirs.user_cache_dir("evmkiln")/code``
(``~/.cache/evmkiln/code`` on Linux).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel
from pydantic_core import from_json

from evmkiln.codegen.artifact_errors import ArtifactError
from evmkiln.codegen.artifact_files import MAX_METADATA_BYTES, read_regular_file
from evmkiln.codegen.backend import (
    AotBackend,
    Backend,
    CompileOptions,
    Executable,
    KeyedArtifacts,
)
from evmkiln.codegen.ir.function import Function
from evmkiln.context.artifact_store import code_hash, load_artifact
from evmkiln.context.code_cache import DispatchStats
from evmkiln.context.registry import is_unresolved, resolved

log = logging.getLogger("evmkiln.cache")

CACHE_ENV = "EVMKILN_CACHE"
"""``off`` (or ``0``, ``false``, ``no``) turns the persistent cache off; ``on`` (``1``,
``true``, ``yes``) or nothing leaves it on; in any case.  Any other value is refused
(see :func:`enabled_by_environment`)."""
CACHE_DIR_ENV = "EVMKILN_CACHE_DIR"
"""The cache directory, instead of the per-user default."""
CACHE_BYTES_ENV = "EVMKILN_CACHE_MAX_BYTES"
"""The cap in bytes, instead of :data:`DEFAULT_MAX_BYTES`."""

DEFAULT_MAX_BYTES = 512 << 20
"""512 MiB: a few thousand contracts (an LLVM library is 20-700 KB, a wasm module 50 KB-2 MB)."""
LOW_WATER = 0.9
"""Eviction goes down to this fraction of the cap, so that the next writes do not evict again."""
RESCAN_EVERY = 32
"""Writes between two scans of the directory's size (other processes write too)."""
EXIT_WAIT_SECONDS = 30.0
"""How long interpreter exit waits for queued writes before leaving them to a later process."""
MAX_PENDING_WRITES = 64
"""Writes of lowered IR functions queued at most; more are dropped (a later process
compiles and writes them): a burst of new contracts must not hold them all."""
MAX_PENDING_LOWERINGS_BYTES = 32 << 20
"""Code queued for writes that lower it on the writer thread, in bytes at most.

Such a write holds only the bytecode (the tiered runtime hands over its
compiles this way), so many more fit: a burst of promotions (a process's
start, a backlog draining) must not lose writes, or the next process compiles
those codes again."""
REFUSED_DIR = ".refused"
"""Under a key directory: compiles given up for good (see ``DiskCache.refusals_path``)."""
MAX_REFUSAL_TEXT = 2_000
"""Characters of a remembered refusal's reason kept."""
MAX_REMEMBERED = 1 << 16
"""Codes remembered as written or queued, to skip a second write; forgotten past this
(a second write then costs one ``stat``: the entry is found on disk)."""
STALE_TEMP_SECONDS = 3600.0
"""A temporary directory this old belongs to a writer that died; eviction removes it."""
_OFF = ("off", "0", "false", "no")
_ON = ("on", "1", "true", "yes")


def default_directory() -> Path:
    """``EVMKILN_CACHE_DIR`` if set, else the per-user cache directory's ``code`` folder."""
    chosen = os.environ.get(CACHE_DIR_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    return Path(platformdirs.user_cache_dir("evmkiln")) / "code"


def enabled_by_environment() -> bool:
    """Whether the cache is on unless a caller says otherwise (``EVMKILN_CACHE``).

    A value that is neither on nor off is a ``ValueError`` naming the accepted
    ones, as a malformed ``EVMKILN_CACHE_MAX_BYTES`` is: a misspelt ``off``
    must not leave the cache on unnoticed.
    """
    chosen = os.environ.get(CACHE_ENV, "").strip()
    value = chosen.lower()
    if value in _OFF:
        return False
    if not value or value in _ON:
        return True
    accepted = ", ".join(_ON + _OFF)
    raise ValueError(f"{CACHE_ENV}={chosen!r}: expected one of {accepted} (in any case)")


def default_max_bytes() -> int:
    """``EVMKILN_CACHE_MAX_BYTES`` if set (``ValueError`` unless a positive integer)."""
    chosen = os.environ.get(CACHE_BYTES_ENV, "").strip()
    if not chosen:
        return DEFAULT_MAX_BYTES
    try:
        value = int(chosen)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{CACHE_BYTES_ENV} must be a positive number of bytes, not {chosen!r}")
    return value


def _jsonable(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def key_of(fields: dict[str, object]) -> str:
    """16 hex digits of SHA-256 over ``fields`` (an artifact's checked metadata) as JSON."""
    text = json.dumps(_jsonable(fields), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key_fields(backend: AotBackend, fork: str, options: CompileOptions) -> dict[str, object]:
    """What entries of ``backend`` built by this process for ``fork`` and ``options`` are keyed by.

    A backend that cannot say (not :class:`KeyedArtifacts`) is keyed by its
    name, the fork and the options only: its loader still refuses a mismatch,
    which is then counted as a rejection and rewritten.
    """
    if isinstance(backend, KeyedArtifacts):
        return backend.artifact_fields(fork, options)
    return {
        "backend": backend.name,
        "fork": fork,
        "options": {
            "opt_level": options.opt_level,
            "gas_metering": options.gas_metering,
            "extra": dict(options.extra),
        },
    }


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One entry directory, as :func:`scan` finds it."""

    path: Path
    backend: str
    fork: str
    key: str
    code_hash: bytes
    size: int
    """Bytes of its files."""
    mtime: float
    """Last written or loaded."""


def _is_hash(name: str) -> bool:
    if len(name) != 64:
        return False
    try:
        bytes.fromhex(name)
    except ValueError:
        return False
    return True


def _subdirs(path: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
            yield entry


def _entry_size(path: Path) -> int:
    total = 0
    try:
        with os.scandir(path) as it:
            for item in it:
                try:
                    total += item.stat(follow_symlinks=False).st_size
                except OSError:
                    continue  # removed meanwhile
    except OSError:
        return 0
    return total


def scan(root: Path) -> list[CacheEntry]:
    """Every entry under ``root``, in any order; nothing but the cache's own layout is seen.

    Temporary and half-removed directories (names starting with a dot) are
    skipped; so is anything that does not look like
    ``<backend>/<fork>/<key>/<64 hex digits>``, so that a cache directory
    pointed at the wrong place is never emptied of someone else's files.
    """
    found: list[CacheEntry] = []
    for backend in _subdirs(root):
        for fork in _subdirs(Path(backend.path)):
            for key in _subdirs(Path(fork.path)):
                if len(key.name) != 16:
                    continue
                for entry in _subdirs(Path(key.path)):
                    if not _is_hash(entry.name):
                        continue
                    try:
                        mtime = entry.stat(follow_symlinks=False).st_mtime
                    except OSError:
                        continue
                    path = Path(entry.path)
                    found.append(
                        CacheEntry(
                            path,
                            backend.name,
                            fork.name,
                            key.name,
                            bytes.fromhex(entry.name),
                            _entry_size(path),
                            mtime,
                        )
                    )
    return found


def remove_entry(path: Path) -> bool:
    """Remove an entry directory: renamed aside first, so no reader sees half of it.

    Returns whether this call removed it (another process may have been first).
    """
    aside = path.with_name(f".gone-{path.name}-{os.getpid()}-{threading.get_ident()}")
    try:
        os.rename(path, aside)
    except OSError:
        return False
    shutil.rmtree(aside, ignore_errors=True)
    return True


def remove_stale_temporaries(root: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove the temporary directories of writers that died (``.tmp-*``, ``.gone-*``)."""
    removed = 0
    now = time.time()
    for backend in _subdirs(root):
        for fork in _subdirs(Path(backend.path)):
            for key in _subdirs(Path(fork.path)):
                try:
                    with os.scandir(key.path) as it:
                        leftovers = [
                            e for e in it if e.name.startswith((".tmp-", ".gone-")) and e.is_dir()
                        ]
                except OSError:
                    continue
                for item in leftovers:
                    try:
                        age = now - item.stat(follow_symlinks=False).st_mtime
                    except OSError:
                        continue
                    if age >= older_than:
                        shutil.rmtree(item.path, ignore_errors=True)
                        removed += 1
    return removed


def evict(root: Path, max_bytes: int, low_water: float = LOW_WATER) -> tuple[int, int]:
    """If ``root`` holds more than ``max_bytes``, remove least recently used entries.

    Removes down to ``low_water * max_bytes``.  Returns (entries removed,
    bytes the directory holds afterwards).
    """
    entries = scan(root)
    total = sum(e.size for e in entries)
    if total <= max_bytes:
        return 0, total
    remove_stale_temporaries(root)
    target = int(max_bytes * low_water)
    removed = 0
    for entry in sorted(entries, key=lambda e: e.mtime):
        if total <= target:
            break
        if remove_entry(entry.path):
            removed += 1
        total -= entry.size
    return removed, total


EntryStatus = Literal["ok", "stale", "bad"]


@dataclass(frozen=True, slots=True)
class EntryCheck:
    """What :func:`verify_entry` found.

    ``ok``: this process loads it.  ``stale``: built for another evmkiln,
    compiler, machine or engine setting (its key is not this process's for
    its options), or by a backend not installed here: never looked up, not
    an error, evicted in time.  ``bad``: under this process's key, yet
    refused by the loader (corrupt), or unreadable.
    """

    entry: CacheEntry
    status: EntryStatus
    message: str = ""


def _recorded_options(meta_path: Path) -> CompileOptions:
    """The compile options an entry's metadata records (``ValueError`` if it cannot be read)."""
    try:
        # Not ``json.loads``: 64 KiB of ``[`` overflows its native stack under
        # py-evm's recursion limit; pydantic's parser stops at a fixed depth.
        raw = from_json(read_regular_file(meta_path, MAX_METADATA_BYTES, "metadata"))
        options = raw["options"]
        extra = options["extra"]
        if not isinstance(extra, dict):
            raise TypeError("options.extra is not an object")
        return CompileOptions(
            opt_level=int(options["opt_level"]),
            gas_metering=bool(options["gas_metering"]),
            extra=extra,
        )
    except (OSError, ValueError, KeyError, TypeError, ArtifactError) as exc:
        raise ValueError(f"{meta_path}: cannot read the options it was built with: {exc}") from None


def verify_entry(entry: CacheEntry) -> EntryCheck:
    """Load ``entry`` as a VM of this process with the options it records would; never raises."""
    from evmkiln.context.registry import get_backend

    try:
        backend = get_backend(entry.backend)
    except Exception as exc:  # not installed, or fails to start: nothing here can load it
        return EntryCheck(entry, "stale", f"backend {entry.backend!r} unavailable: {exc}")
    if not isinstance(backend, AotBackend):
        return EntryCheck(entry, "bad", f"backend {entry.backend!r} cannot load artifacts")
    meta = entry.path / f"{entry.code_hash.hex()}{backend.artifact_suffix}"
    try:
        options = _recorded_options(meta)
        key = key_of(key_fields(backend, entry.fork, options))
    except Exception as exc:
        return EntryCheck(entry, "bad", str(exc))
    if key != entry.key:
        return EntryCheck(entry, "stale", f"built for another build or machine (this one: {key})")
    try:
        load_artifact(backend, meta, entry.code_hash, fork=entry.fork, options=options)
    except Exception as exc:
        text = str(exc) if isinstance(exc, ArtifactError) else f"{type(exc).__name__}: {exc}"
        return EntryCheck(entry, "bad", text)
    return EntryCheck(entry, "ok")


def clear(root: Path) -> tuple[int, int]:
    """Remove every entry, remembered refusal and leftover temporary directory under
    ``root``; (entries, bytes).

    Only the cache's own layout is touched (see :func:`scan`); directories
    left empty are removed too.
    """
    entries = scan(root)
    removed = sum(1 for entry in entries if remove_entry(entry.path))
    remove_stale_temporaries(root, older_than=0.0)
    for backend in _subdirs(root):
        for fork in _subdirs(Path(backend.path)):
            for key in _subdirs(Path(fork.path)):
                shutil.rmtree(Path(key.path) / REFUSED_DIR, ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.rmdir(key.path)
            with contextlib.suppress(OSError):
                os.rmdir(fork.path)
        with contextlib.suppress(OSError):
            os.rmdir(backend.path)
    return removed, sum(e.size for e in entries)


@dataclass(slots=True)
class _Write:
    digest: bytes
    function: Function | Callable[[], Function]
    """The lowered code, or how to lower it (on the writer thread)."""
    deferred_bytes: int
    """The code's length when ``function`` lowers it on the writer thread, else 0."""


class DiskCache:
    """One VM class's view of a cache directory: one backend, fork and option set.

    Implements the code cache's :class:`~evmkiln.context.code_cache.PersistentCode`:
    :meth:`lookup` before compiling, :meth:`store` after.  Counters go to
    ``stats`` (the VM class's :class:`DispatchStats`); the last refusals'
    messages are kept in :attr:`rejections` for reports.

    ``background=False`` writes in the caller's thread (tests, tools that
    fill a cache on purpose); :meth:`flush` waits for background writes.
    """

    def __init__(
        self,
        backend: Backend,
        directory: Path | str,
        *,
        fork: str,
        options: CompileOptions,
        stats: DispatchStats | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        background: bool = True,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("the code cache needs a positive size in bytes")
        self.backend = backend
        self.root = Path(directory)
        self.fork = fork
        self.options = options
        self.stats = stats if stats is not None else DispatchStats()
        self.max_bytes = max_bytes
        self.background = background
        self._where: tuple[str, Path, str] | None = None
        """(key, key directory, metadata suffix), once known: see :meth:`_locate`."""
        self._usable = True
        self._where_lock = threading.Lock()
        if not is_unresolved(backend):
            self._locate(raise_errors=True)  # as before: open_disk_cache decides
        self.load_seconds = 0.0
        """Time spent in successful loads."""
        self.rejections: deque[str] = deque(maxlen=32)
        self.evicted = 0
        self.dropped = 0
        """Writes not queued because :data:`MAX_PENDING_WRITES` were pending."""
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._queue: deque[_Write] = deque()
        self._lowered_queued = 0
        """Queued writes holding a lowered function (at most ``MAX_PENDING_WRITES``)."""
        self._deferred_bytes = 0
        """Bytes of code queued for lowering on the writer thread."""
        self._pending = 0
        self._seen: set[bytes] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._since_scan = RESCAN_EVERY  # scan on the first write
        self._bytes = 0

    def _locate(self, *, raise_errors: bool = False) -> tuple[str, Path, str] | None:
        """The key, key directory and metadata suffix; ``None`` if the backend turned out
        unable to write artifacts.

        Computed on first need.  A VM class under a tiered runtime holds its
        backends unimported (:class:`~evmkiln.context.registry.DeferredBackend`),
        and the key (compiler fingerprint, CPU, engine settings) needs the
        backend: until an entry or refusal of a code is known to exist under
        some key (:meth:`_listed`), or a compile is stored, nothing imports it.
        Found out that late, a failure turns the cache off with a warning
        (``raise_errors``: raise it instead, for a backend known at construction).
        """
        where = self._where
        if where is not None or not self._usable:
            return where
        with self._where_lock:
            if self._where is None and self._usable:
                try:
                    backend = resolved(self.backend)
                    if not isinstance(backend, AotBackend):
                        raise ValueError(f"the {backend.name} backend cannot write artifacts")
                    key = key_of(key_fields(backend, self.fork, self.options))
                    directory = self.root / backend.name / self.fork / key
                    self._where = (key, directory, backend.artifact_suffix)
                except Exception as exc:  # the cache is an optimisation: go on without it
                    if raise_errors:
                        raise
                    log.warning("persistent code cache off: %s: %s", type(exc).__name__, exc)
                    self._usable = False
            return self._where

    def _aot_backend(self) -> AotBackend:
        """The backend, imported (only called once :meth:`_locate` found it can write artifacts)."""
        backend = resolved(self.backend)
        assert isinstance(backend, AotBackend)
        return backend

    def _where_or_raise(self) -> tuple[str, Path, str]:
        where = self._locate()
        if where is None:
            name = self.backend.name
            raise RuntimeError(f"the persistent code cache is off for the {name} backend")
        return where

    @property
    def key(self) -> str:
        """Digest of everything the backend's loader compares with this process."""
        return self._where_or_raise()[0]

    @property
    def directory(self) -> Path:
        """Where this process's entries are: the key directory."""
        return self._where_or_raise()[1]

    @property
    def suffix(self) -> str:
        """The file name ending of an entry's metadata (the backend's artifact suffix)."""
        return self._where_or_raise()[2]

    def _listed(self, name: str) -> bool:
        """Whether ``name`` exists under some key directory of this backend and fork.

        What a lookup asks before the key is known: a listing of the fork's
        directory (a handful of keys) and a ``stat`` each, where computing the
        key would import the backend.
        """
        fork_dir = self.root / self.backend.name / self.fork
        try:
            keys = os.listdir(fork_dir)
        except OSError:
            return False
        return any(os.path.lexists(fork_dir / key / name) for key in keys)

    def _unlocated_miss(self, name: str) -> bool:
        """True when the key is not known yet and nothing named ``name`` is under any key."""
        if self._where is not None:
            return False
        return not self._usable or not self._listed(name)

    def entry_path(self, digest: bytes) -> Path:
        """The entry directory for the code hashing to ``digest``."""
        return self.directory / digest.hex()

    def meta_path(self, digest: bytes) -> Path:
        """The artifact's metadata file, what the backend's loader is given."""
        return self.entry_path(digest) / f"{digest.hex()}{self.suffix}"

    # ----------------------------------------------------------------- lookup

    def lookup(self, code: bytes) -> Executable | None:
        """The code's executable from an earlier process, or ``None`` (then compile it).

        A miss costs one ``stat``.  An entry the loader refuses is logged,
        counted and removed; so is any other failure to load it.
        """
        digest = code_hash(code)
        if self._unlocated_miss(digest.hex()) or self._locate() is None:
            return None
        meta = self.meta_path(digest)
        if not meta.is_file():
            return None
        start = time.perf_counter()
        try:
            executable = load_artifact(
                self._aot_backend(), meta, digest, fork=self.fork, options=self.options
            )
        except ArtifactError as exc:
            self._reject(digest, str(exc))
            return None
        except Exception as exc:  # a loader bug must not take the frame down: compile instead
            self._reject(digest, f"{meta}: {type(exc).__name__}: {exc}")
            return None
        seconds = time.perf_counter() - start
        with contextlib.suppress(OSError):  # evicted meanwhile: loaded all the same
            os.utime(self.entry_path(digest))  # least recently used is by this time
        with self._lock:
            self.load_seconds += seconds
            self.stats.cache_loaded += 1
            self._seen.add(digest)
        return executable

    def _reject(self, digest: bytes, message: str) -> None:
        log.warning("code cache entry refused, recompiling: %s", message)
        remove_entry(self.entry_path(digest))
        with self._lock:
            self.stats.cache_rejected += 1
            self.rejections.append(message)

    # -------------------------------------------------------------- refusals

    @property
    def refusals_path(self) -> Path:
        """Where compiles given up for good are remembered, one small file per code.

        A dot directory: :func:`scan`, eviction and ``evmkiln cache verify``
        see entries only.  It lives under the key directory, so a refusal
        holds for this backend's version, options and CPU alone: a newer
        compiler tries the code again.
        """
        return self.directory / REFUSED_DIR

    def refusal(self, code: bytes) -> str | None:
        """Why an earlier process gave up compiling ``code`` (one ``stat`` on a miss)."""
        name = code_hash(code).hex()
        if self._unlocated_miss(f"{REFUSED_DIR}/{name}") or self._locate() is None:
            return None
        path = self.refusals_path / name
        try:
            return path.read_text(encoding="utf-8", errors="replace")[:MAX_REFUSAL_TEXT]
        except OSError:
            return None

    def remember_refusal(self, code: bytes, reason: str) -> None:
        """Keep that compiling ``code`` is given up: it was refused or ran out of time.

        A failure that may not recur (a crash, memory) is not remembered.
        Written whole or not at all; an error only means a later process tries
        again.
        """
        if self._locate() is None:
            return
        directory = self.refusals_path
        target = directory / code_hash(code).hex()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / f".tmp-{target.name}-{os.getpid()}-{threading.get_ident()}"
            tmp.write_text(reason[:MAX_REFUSAL_TEXT], encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            log.info("code cache: refusal not remembered: %s", exc)

    # ------------------------------------------------------------------ store

    def store(self, code: bytes, function: Function | Callable[[], Function]) -> None:
        """Write ``code``'s artifact (from ``function``, its lowering), now or in the background.

        ``function`` may be a callable that lowers the code; it is called only
        if the entry is written, on the thread that writes it.
        """
        digest = code_hash(code)
        if self._locate() is None:
            return
        with self._lock:
            if digest in self._seen or self._closed:
                return
            deferred = 0 if isinstance(function, Function) else len(code)
            if self.background and (
                self._deferred_bytes + deferred > MAX_PENDING_LOWERINGS_BYTES
                if deferred
                else self._lowered_queued >= MAX_PENDING_WRITES
            ):
                self.dropped += 1
                return
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            self._seen.add(digest)
            if self.background:
                self._queue.append(_Write(digest, function, deferred))
                self._account(deferred, +1)
                self._pending += 1
                if self._thread is None or not self._thread.is_alive():
                    self._start_writer()
                return
        self._write(digest, function)

    def _start_writer(self) -> None:
        """Start a writer thread (with the lock held); it ends when the queue is empty.

        Also after a ``fork``, whose child has the queue but not the thread.
        Not a daemon: the interpreter waits for it at exit, before ``atexit``
        handlers and finalizers close the compiler processes a write needs;
        the thread itself gives up :data:`EXIT_WAIT_SECONDS` after the main
        thread has finished.
        """
        self._thread = threading.Thread(
            target=self._work, name="evmkiln-code-cache-writer", daemon=False
        )
        self._thread.start()

    def _work(self) -> None:
        exit_deadline: float | None = None
        while True:
            with self._lock:
                if self._queue and not threading.main_thread().is_alive():
                    now = time.monotonic()
                    if exit_deadline is None:
                        exit_deadline = now + EXIT_WAIT_SECONDS
                    elif now > exit_deadline:
                        log.info("code cache: %d writes left for a later process", len(self._queue))
                        self._pending -= len(self._queue)
                        self._clear_queue()
                        self._done.notify_all()
                if not self._queue:
                    self._thread = None  # idle: no thread left waiting; store starts another
                    return
                job = self._queue.popleft()
                self._account(job.deferred_bytes, -1)
            try:
                self._write(job.digest, job.function)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._done.notify_all()

    def _account(self, deferred_bytes: int, sign: int) -> None:
        """Count a queued write in or out (lock held)."""
        if deferred_bytes:
            self._deferred_bytes += sign * deferred_bytes
        else:
            self._lowered_queued += sign

    def _clear_queue(self) -> None:
        self._queue.clear()
        self._deferred_bytes = self._lowered_queued = 0

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is done; ``False`` if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._done.wait(left)
        return True

    def close(self, timeout: float | None = EXIT_WAIT_SECONDS) -> None:
        """Finish queued writes (for at most ``timeout`` seconds), then accept no more."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._clear_queue()
            self._done.notify_all()

    def _write(self, digest: bytes, function: Function | Callable[[], Function]) -> None:
        entry = self.entry_path(digest)
        if self.meta_path(digest).is_file():
            return  # another process wrote it meanwhile
        try:
            lowered = function if isinstance(function, Function) else function()
            size = self._build(digest, lowered, entry)
        except Exception as exc:  # the code runs compiled all the same; a later process retries
            name = type(exc).__name__
            log.info("code cache: could not write 0x%s: %s: %s", digest.hex(), name, exc)
            with self._lock:
                self.stats.cache_store_failures += 1
            return
        with self._lock:
            if size:
                self.stats.cache_stored += 1
            self._bytes += size
            self._since_scan += 1
            due = self._since_scan >= RESCAN_EVERY or self._bytes > self.max_bytes
        if due:
            removed, total = evict(self.root, self.max_bytes)
            with self._lock:
                self.evicted += removed
                self._bytes = total
                self._since_scan = 0

    def _build(self, digest: bytes, function: Function, entry: Path) -> int:
        """Save into a temporary directory, then rename it into place; the bytes it added."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.directory))
        try:
            meta = self._aot_backend().save(
                function, tmp, code_hash=digest, fork=self.fork, options=self.options
            )
            if meta.parent != tmp or meta.name != f"{digest.hex()}{self.suffix}":
                raise ArtifactError(meta, f"saved where the cache does not look for it ({tmp})")
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the entry from other users
            size = _entry_size(tmp)
            for attempt in range(2):
                try:
                    os.rename(tmp, entry)
                except OSError:
                    if self.meta_path(digest).is_file():
                        return 0  # another process got there first: its copy is as good
                    if attempt == 0:
                        remove_entry(entry)  # a broken leftover: replace it
                        continue
                    raise
                return size
            return 0  # pragma: no cover - the loop returns or raises
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def may_write_artifacts(backend: Backend) -> bool:
    """Whether ``backend`` can write artifacts, or might (not imported yet: see
    :class:`~evmkiln.context.registry.DeferredBackend`; its cache finds out at first use)."""
    return is_unresolved(backend) or isinstance(backend, AotBackend)


def open_disk_cache(
    backend: Backend,
    *,
    fork: str,
    options: CompileOptions,
    stats: DispatchStats,
    enabled: bool | None = None,
    directory: Path | str | None = None,
    max_bytes: int | None = None,
) -> DiskCache | None:
    """The persistent cache a VM class should use, or ``None`` if it is off.

    ``enabled=None`` follows ``EVMKILN_CACHE`` and quietly skips backends
    that cannot write artifacts; ``enabled=True`` with such a backend is a
    ``ValueError``.  ``directory`` and ``max_bytes`` default to
    :func:`default_directory` and :func:`default_max_bytes`.  With
    ``enabled=None`` a cache that cannot be opened (a malformed
    ``EVMKILN_CACHE`` or ``EVMKILN_CACHE_MAX_BYTES`` among the reasons) is
    off, with a warning naming the reason.
    """
    by_default = enabled is None
    try:
        if enabled is None:
            enabled = may_write_artifacts(backend) and enabled_by_environment()
        if not enabled:
            return None
        if not may_write_artifacts(backend):
            raise ValueError(f"the {backend.name} backend cannot write compiled code to a cache")
        return DiskCache(
            backend,
            directory if directory is not None else default_directory(),
            fork=fork,
            options=options,
            stats=stats,
            max_bytes=max_bytes if max_bytes is not None else default_max_bytes(),
        )
    except Exception as exc:
        if not by_default:
            raise
        # A cache nobody asked for must not keep a VM from being made.
        log.warning("persistent code cache off: %s: %s", type(exc).__name__, exc)
        return None
