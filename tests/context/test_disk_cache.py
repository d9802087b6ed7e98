"""The persistent code cache: a later VM class or process loads what an earlier one compiled.

Every test has a cache directory of its own and turns the cache on
explicitly (the suite runs with ``EVMKILN_CACHE=off``).  Results are always
compared with stock py-evm: a cache that loads the wrong code must fail here,
not merely count differently.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from artifact_checks import run_fresh_process
from eth.vm.forks.cancun import CancunVM
from message_harness import CALLEE, CALLER, SENDER, A, B, apply_message

from evmkiln.codegen.artifact_files import MAX_METADATA_BYTES
from evmkiln.codegen.backend import AotBackend, CompileOptions
from evmkiln.context import disk_cache, make_vm_class
from evmkiln.context.artifact_store import code_hash
from evmkiln.context.code_cache import lower_with_pipeline
from evmkiln.context.disk_cache import (
    CACHE_BYTES_ENV,
    CACHE_DIR_ENV,
    CACHE_ENV,
    MAX_PENDING_WRITES,
    DiskCache,
    evict,
    scan,
    verify_entry,
)
from evmkiln.context.registry import get_backend

HERE = Path(__file__).resolve().parent

THIRD = bytes.fromhex("60003560010160005260206000f3")  # RETURN(calldataload(0) + 1)
ACCOUNTS = {SENDER: {"balance": 10**18}, A: {"code": CALLER}, B: {"code": CALLEE}}


@pytest.fixture(params=("llvm", "wasm"))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    pytest.importorskip(f"evmkiln.backend_{name}")
    return name


def cached_vm(backend: str, directory: Path, **kwargs: Any) -> Any:
    return make_vm_class(
        backend, persistent_cache=True, code_cache_dir=directory, **{"fork": "cancun", **kwargs}
    )


def refuse_compiles(vm_class: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled although the cache holds the code")

    monkeypatch.setattr(vm_class.backend, "compile", refuse)


def fill(backend: str, directory: Path) -> Any:
    """Run the two contracts once with the cache on and wait for the writes."""
    vm_class = cached_vm(backend, directory)
    assert apply_message(vm_class, ACCOUNTS, value=3) == apply_message(CancunVM, ACCOUNTS, value=3)
    assert vm_class.disk_cache.flush(timeout=300)
    stats = vm_class.stats
    assert (stats.frames_compiled, stats.cache_stored, stats.cache_loaded) == (2, 2, 0)
    assert stats.cache_store_failures == 0
    return vm_class


def entry_meta(vm_class: Any, code: bytes) -> Path:
    path: Path = vm_class.disk_cache.meta_path(code_hash(code))
    return path


def test_second_vm_class_loads_instead_of_compiling(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(backend, tmp_path)
    entries = scan(tmp_path)
    assert sorted(e.code_hash for e in entries) == sorted([code_hash(CALLER), code_hash(CALLEE)])
    assert {(e.backend, e.fork) for e in entries} == {(backend, "cancun")}

    second = cached_vm(backend, tmp_path)
    refuse_compiles(second, monkeypatch)
    for value in (3, 4):
        assert apply_message(second, ACCOUNTS, value=value) == apply_message(
            CancunVM, ACCOUNTS, value=value
        )
    stats = second.stats
    assert (stats.frames_compiled, stats.cache_loaded, stats.cache_rejected) == (0, 2, 0)
    assert stats.frames_run_compiled == 4 and stats.frames_interpreted == 0
    assert second.disk_cache.flush(timeout=1) and stats.cache_stored == 0


def test_other_options_are_another_key(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fill(backend, tmp_path)
    other = cached_vm(backend, tmp_path, opt_level=1)
    assert other.disk_cache.directory != first.disk_cache.directory
    assert apply_message(other, ACCOUNTS, value=3) == apply_message(CancunVM, ACCOUNTS, value=3)
    stats = other.stats
    assert (stats.frames_compiled, stats.cache_loaded, stats.cache_rejected) == (2, 0, 0)
    other.disk_cache.flush(timeout=300)


FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys, time
    from message_harness import apply_message
    from test_disk_cache import ACCOUNTS
    from evmkiln.context import make_vm_class

    # EVMKILN_CACHE decides
    vm_class = make_vm_class(sys.argv[1], code_cache_dir=sys.argv[2], fork="cancun")
    result = apply_message(vm_class, ACCOUNTS, value=3)
    stats = vm_class.stats
    print(json.dumps({
        "compiled": stats.frames_compiled,
        "loaded": stats.cache_loaded,
        "result": repr(result),
        "load_ms": vm_class.disk_cache.load_seconds * 1000,
    }))
    """
)


def test_second_process_compiles_nothing(backend: str, tmp_path: Path) -> None:
    env = {CACHE_ENV: "on"}
    args = [backend, str(tmp_path)]
    first = run_fresh_process(FRESH_PROCESS, args, HERE, env=env)
    assert (first["compiled"], first["loaded"]) == (2, 0)
    assert len(scan(tmp_path)) == 2  # written before the first process exited
    second = run_fresh_process(FRESH_PROCESS, args, HERE, env=env)
    assert (second["compiled"], second["loaded"]) == (0, 2)
    assert second["result"] == first["result"]
    assert first["result"] == repr(apply_message(CancunVM, ACCOUNTS, value=3))


def _truncate_payload(meta: Path) -> None:
    field = "library" if "llvm" in meta.name else "module"
    payload = meta.parent / json.loads(meta.read_text())[field]
    data = payload.read_bytes()
    payload.unlink()  # a new file: never alter one a process may have mapped
    payload.write_bytes(data[: len(data) // 2])


def _garbage_metadata(meta: Path) -> None:
    meta.unlink()
    meta.write_bytes(os.urandom(300))


def _other_build(meta: Path) -> None:
    data = json.loads(meta.read_text())
    data["evmkiln_version"] = "0.0.0-elsewhere"
    meta.unlink()
    meta.write_text(json.dumps(data))


CORRUPTIONS = {
    "truncated": (_truncate_payload, "truncated"),
    "garbage": (_garbage_metadata, "invalid metadata"),
    "mismatched": (_other_build, "evmkiln_version"),
}


@pytest.mark.parametrize("damage", [*CORRUPTIONS, "wrong code"])
def test_corrupt_entry_is_refused_and_recompiled(
    backend: str, damage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = fill(backend, tmp_path)
    meta = entry_meta(first, CALLER)
    if damage == "wrong code":  # the callee's artifact filed under the caller's hash
        callee = entry_meta(first, CALLEE)
        shutil.rmtree(meta.parent)
        meta.parent.mkdir()
        for path in callee.parent.iterdir():
            name = meta.name if path == callee else path.name
            shutil.copyfile(path, meta.parent / name)
        expected = "not the code its name says"
    else:
        corrupt, expected = CORRUPTIONS[damage]
        corrupt(meta)

    second = cached_vm(backend, tmp_path)
    with caplog.at_level("WARNING", logger="evmkiln.cache"):
        result = apply_message(second, ACCOUNTS, value=3)
    assert result == apply_message(CancunVM, ACCOUNTS, value=3)
    stats = second.stats
    assert (stats.cache_rejected, stats.cache_loaded, stats.frames_compiled) == (1, 1, 1)
    assert expected in second.disk_cache.rejections[0]
    assert any("refused, recompiling" in r.getMessage() for r in caplog.records)

    assert second.disk_cache.flush(timeout=300) and stats.cache_stored == 1  # written again
    assert all(verify_entry(e).status == "ok" for e in scan(tmp_path))
    third = cached_vm(backend, tmp_path)
    assert apply_message(third, ACCOUNTS, value=5) == apply_message(CancunVM, ACCOUNTS, value=5)
    assert (third.stats.cache_loaded, third.stats.frames_compiled) == (2, 0)


@pytest.mark.parametrize("damage", ["nested", "fifo"])
def test_hostile_metadata_is_a_bad_entry(backend: str, damage: str, tmp_path: Path) -> None:
    """``cache verify`` reads the options an entry records: 64 KiB of ``[`` overflowed
    the standard JSON parser's native stack under py-evm's recursion limit (the
    process died), and a FIFO in the metadata's place blocked it forever."""
    first = fill(backend, tmp_path)
    meta = entry_meta(first, CALLER)
    meta.unlink()
    if damage == "fifo":
        os.mkfifo(meta)
    else:
        meta.write_bytes(b"[" * (MAX_METADATA_BYTES + 1))
    checks = {check.entry.code_hash: check for check in map(verify_entry, scan(tmp_path))}
    assert checks.pop(code_hash(CALLER)).status != "ok"
    assert [check.status for check in checks.values()] == ["ok"]


def test_half_removed_entry_is_a_miss_and_replaced(backend: str, tmp_path: Path) -> None:
    first = fill(backend, tmp_path)
    meta = entry_meta(first, CALLER)
    meta.unlink()  # what a writer killed between two unlinks of a removal would leave
    second = cached_vm(backend, tmp_path)
    assert apply_message(second, ACCOUNTS, value=3) == apply_message(CancunVM, ACCOUNTS, value=3)
    assert (second.stats.cache_loaded, second.stats.frames_compiled) == (1, 1)
    assert second.disk_cache.flush(timeout=300) and second.stats.cache_stored == 1
    assert meta.is_file()


def _write_concurrently(
    backend: str, directory: str, barrier: Any, results: Any, index: int
) -> None:
    """One of several processes storing the same codes into one directory at the same moment."""
    aot = get_backend(backend)
    assert isinstance(aot, AotBackend)
    cache = DiskCache(aot, directory, fork="cancun", options=CompileOptions(), background=False)
    functions = [(code, lower_with_pipeline(code)) for code in (CALLER, CALLEE, THIRD)]
    barrier.wait(timeout=120)
    for code, function in functions:
        cache.store(code, function)
    results[index] = (cache.stats.cache_stored, cache.stats.cache_store_failures)


def test_concurrent_writers_leave_loadable_entries(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers = 3
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(writers)
        results = manager.dict()
        processes = [
            context.Process(
                target=_write_concurrently, args=(backend, str(tmp_path), barrier, results, i)
            )
            for i in range(writers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=600)
        assert [p.exitcode for p in processes] == [0] * writers
        outcome = dict(results)
    assert sum(failures for _, failures in outcome.values()) == 0
    assert 3 <= sum(stored for stored, _ in outcome.values()) <= 3 * writers
    entries = scan(tmp_path)
    assert len(entries) == 3
    assert [verify_entry(e).status for e in entries] == ["ok"] * 3
    leftovers = [p for p in tmp_path.rglob(".*") if p.name.startswith((".tmp-", ".gone-"))]
    assert leftovers == []
    vm_class = cached_vm(backend, tmp_path)
    refuse_compiles(vm_class, monkeypatch)
    assert apply_message(vm_class, ACCOUNTS, value=3) == apply_message(CancunVM, ACCOUNTS, value=3)
    assert vm_class.stats.cache_loaded == 2


def test_eviction_removes_least_recently_used(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    aot = get_backend("wasm")
    assert isinstance(aot, AotBackend)
    cache = DiskCache(aot, tmp_path, fork="cancun", options=CompileOptions(), background=False)
    for code in (CALLER, CALLEE, THIRD):
        cache.store(code, lower_with_pipeline(code))
    assert cache.stats.cache_stored == 3
    for age, code in enumerate((CALLER, CALLEE, THIRD)):
        os.utime(cache.entry_path(code_hash(code)), (1000.0 + age, 1000.0 + age))
    assert cache.lookup(CALLER) is not None  # touched: now the most recently used
    sizes = {e.code_hash: e.size for e in scan(tmp_path)}
    total = sum(sizes.values())
    assert evict(tmp_path, total) == (0, total)  # at the cap: nothing to do
    # Just over the low-water mark once CALLEE (the least recently used) is gone.
    cap = int((total - sizes[code_hash(CALLEE)]) / 0.9) + 1
    removed, left = evict(tmp_path, cap)
    assert removed == 1 and left == total - sizes[code_hash(CALLEE)]
    assert {e.code_hash for e in scan(tmp_path)} == {code_hash(CALLER), code_hash(THIRD)}


def test_writes_keep_the_cache_under_its_cap(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    aot = get_backend("wasm")
    assert isinstance(aot, AotBackend)
    probe = DiskCache(aot, tmp_path / "probe", fork="cancun", options=CompileOptions())
    probe.background = False
    probe.store(CALLER, lower_with_pipeline(CALLER))
    one = scan(tmp_path / "probe")[0].size
    cap = int(one * 2.5)  # room for two entries of about this size
    cache = DiskCache(
        aot, tmp_path / "capped", fork="cancun", options=CompileOptions(), max_bytes=cap
    )
    for code in (CALLER, CALLEE, THIRD, bytes.fromhex("6001600201")):
        cache.store(code, lower_with_pipeline(code))
    assert cache.flush(timeout=300)
    assert cache.stats.cache_stored == 4 and cache.evicted >= 1
    assert sum(e.size for e in scan(tmp_path / "capped")) <= cap


def test_environment_and_arguments_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    monkeypatch.setenv(CACHE_ENV, "off")
    assert make_vm_class("llvm", code_cache_dir=tmp_path, fork="cancun").disk_cache is None  # type: ignore[attr-defined]
    forced = make_vm_class("llvm", code_cache_dir=tmp_path, persistent_cache=True, fork="cancun")
    assert forced.disk_cache.root == tmp_path  # type: ignore[attr-defined]

    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    on = make_vm_class("llvm", fork="cancun")
    assert on.disk_cache.root == tmp_path / "from-env"  # type: ignore[attr-defined]
    assert make_vm_class("llvm", persistent_cache=False, fork="cancun").disk_cache is None  # type: ignore[attr-defined]
    # Another lowering is not what the key describes; a backend without artifacts has none.
    custom = make_vm_class("llvm", lower=lambda code: lower_with_pipeline(code), fork="cancun")
    assert custom.disk_cache is None  # type: ignore[attr-defined]
    assert make_vm_class("ir", fork="cancun").disk_cache is None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="cannot write compiled code"):
        make_vm_class("ir", persistent_cache=True, fork="cancun")
    assert not (tmp_path / "from-env").exists()  # nothing compiled, nothing written


class HeldWrites:
    """A wasm cache whose writer holds every write until ``release`` is set."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        pytest.importorskip("evmkiln.backend_wasm")
        aot = get_backend("wasm")
        assert isinstance(aot, AotBackend)
        self.cache = DiskCache(aot, tmp_path, fork="cancun", options=CompileOptions())
        self.release = threading.Event()
        self.written: list[bytes] = []
        monkeypatch.setattr(self.cache, "_write", self._slow_write)

    def _slow_write(self, digest: bytes, function: object) -> None:
        self.release.wait(timeout=60)
        self.written.append(digest)

    def finish(self, stored: int) -> None:
        """Let the writes through; every write not dropped was written."""
        self.release.set()
        assert self.cache.flush(timeout=60)
        assert len(self.written) == stored - self.cache.dropped


def test_pending_writes_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    held = HeldWrites(tmp_path, monkeypatch)
    function = lower_with_pipeline(THIRD)
    codes = [i.to_bytes(4, "big") for i in range(MAX_PENDING_WRITES + 10)]
    for code in codes:
        held.cache.store(code, function)
    assert 9 <= held.cache.dropped <= 10  # the writer may have taken the first job off the queue
    held.finish(len(codes))


def test_writes_that_lower_later_are_capped_by_code_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of promotions hands over many more codes than lowered functions fit.

    Such a write holds only the bytecode; losing it makes the next process
    compile the code again.
    """
    held = HeldWrites(tmp_path, monkeypatch)
    monkeypatch.setattr(disk_cache, "MAX_PENDING_LOWERINGS_BYTES", 40 * 1024)
    codes = [i.to_bytes(2, "big") * 512 for i in range(50)]  # 1 KiB each
    for code in codes:
        held.cache.store(code, lambda: lower_with_pipeline(THIRD))
    assert 9 <= held.cache.dropped <= 11  # 40 KiB queued (and one the writer may hold)
    held.finish(len(codes))
    assert held.cache._lowered_queued == held.cache._deferred_bytes == 0  # counted out again


def test_a_cache_nobody_asked_for_never_breaks_the_vm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    monkeypatch.setenv(CACHE_ENV, "on")
    monkeypatch.setenv(CACHE_BYTES_ENV, "-5")
    with caplog.at_level("WARNING", logger="evmkiln.cache"):
        vm_class = make_vm_class("wasm", code_cache_dir=tmp_path, fork="cancun")
    assert vm_class.disk_cache is None  # type: ignore[attr-defined]
    assert "persistent code cache off" in caplog.text
    with pytest.raises(ValueError, match=CACHE_BYTES_ENV):
        make_vm_class("wasm", code_cache_dir=tmp_path, persistent_cache=True, fork="cancun")
    # Unwritable directory: the VM runs, the write is counted as failed.
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.delenv(CACHE_BYTES_ENV)
    vm_class = make_vm_class("wasm", code_cache_dir=blocked / "cache", fork="cancun")
    assert apply_message(vm_class, ACCOUNTS, value=3) == apply_message(CancunVM, ACCOUNTS, value=3)
    assert vm_class.disk_cache.flush(timeout=300)  # type: ignore[attr-defined]
    assert vm_class.stats.cache_store_failures == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "enabled"),
    [
        *[("", True), ("on", True), ("TRUE", True), (" 1 ", True), ("Yes", True)],
        *[("off", False), ("OFF", False), ("0", False), ("false", False), ("no", False)],
    ],
)
def test_the_environment_turns_the_cache_on_or_off(
    value: str, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, value)
    assert disk_cache.enabled_by_environment() is enabled


def test_a_value_neither_on_nor_off_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not taken as on: the cache goes off with a warning naming the accepted values."""
    pytest.importorskip("evmkiln.backend_wasm")
    monkeypatch.setenv(CACHE_ENV, "of")
    with pytest.raises(ValueError, match=r"EVMKILN_CACHE='of': expected one of on, .*off"):
        disk_cache.enabled_by_environment()
    with caplog.at_level("WARNING", logger="evmkiln.cache"):
        vm_class = make_vm_class("wasm", code_cache_dir=tmp_path, fork="cancun")
    assert vm_class.disk_cache is None  # type: ignore[attr-defined]
    assert "persistent code cache off" in caplog.text and "EVMKILN_CACHE='of'" in caplog.text
    # Asked for explicitly, the cache does not read the variable.
    assert cached_vm("wasm", tmp_path).disk_cache is not None


# -- the tiered runtime ------------------------------------------------------------------


def _tiered_policy() -> Any:
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    # wasm after 2 calls, llvm after 4; compiles on the caller's thread: deterministic.
    return RuntimePolicy(
        background=False,
        fast_tier="wasm",
        thresholds=(Threshold(calls=2, gas=None), Threshold(calls=4, gas=None)),
    )


INCREMENT = bytes.fromhex("60003560010160005260206000f3")  # RETURN(calldataload(0) + 1)
COLD = bytes.fromhex("60026000526020601ff3")  # called once: never compiled, never written


def _run_tiered(vm_class: Any, calls: int) -> None:
    accounts = {A: {"code": INCREMENT}, B: {"code": COLD}}
    word = (41).to_bytes(32, "big")
    for _ in range(calls):
        expected = apply_message(CancunVM, accounts, data=word)
        assert apply_message(vm_class, accounts, data=word) == expected
    assert apply_message(vm_class, accounts, to=B) == apply_message(CancunVM, accounts, to=B)


def test_a_tiered_runtime_starts_a_code_on_the_tier_an_earlier_process_compiled(
    tmp_path: Path,
) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    pytest.importorskip("evmkiln.backend_wasm")
    first = cached_vm("llvm", tmp_path, runtime=_tiered_policy())
    try:
        _run_tiered(first, calls=5)
        before = first.code_cache.snapshot()
        assert before.hits == (1 + 1, 2, 2)  # INCREMENT: 1, 2, 2 frames; COLD interpreted once
        assert before.done == 2 and before.loaded == (0, 0, 0)
        for cache in first.code_cache.persistent:
            assert cache is not None and cache.flush(timeout=300)
    finally:
        first.code_cache.close()
    assert first.stats.cache_stored == 2  # INCREMENT on wasm and on llvm; COLD never
    assert first.stats.cache_store_failures == 0

    second = cached_vm("llvm", tmp_path, runtime=_tiered_policy())
    try:
        _run_tiered(second, calls=3)
        after = second.code_cache.snapshot()
        # INCREMENT runs on llvm from its first frame, loaded; nothing is compiled.
        assert after.loaded == (0, 0, 1)
        assert after.hits == (1, 0, 3)
        assert after.queued == after.done == 0
        assert second.stats.frames_compiled == 0
    finally:
        second.code_cache.close()


def test_a_tiered_runtime_recompiles_past_a_corrupt_entry(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    pytest.importorskip("evmkiln.backend_wasm")
    first = cached_vm("llvm", tmp_path, runtime=_tiered_policy())
    try:
        _run_tiered(first, calls=5)
        for cache in first.code_cache.persistent:
            assert cache is not None and cache.flush(timeout=300)
    finally:
        first.code_cache.close()
    top = first.code_cache.persistent[-1]
    library = next(p for p in top.entry_path(code_hash(INCREMENT)).iterdir() if p.suffix == ".so")
    library.write_bytes(b"\x7fELF" + b"\0" * 64)  # truncated: fails the size and hash checks

    second = cached_vm("llvm", tmp_path, runtime=_tiered_policy())
    try:
        _run_tiered(second, calls=1)
        # The llvm entry is refused; the wasm one loads, and the code runs on it.
        assert second.stats.cache_rejected == 1
        assert second.code_cache.snapshot().loaded == (0, 1, 0)
    finally:
        second.code_cache.close()
