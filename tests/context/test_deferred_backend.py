"""Backends under a tiered runtime are imported at their first use, not with the VM class.

A process that never gets a code hot (a test suite of short-lived contracts)
must not pay for importing llvmlite and wasmtime; the first compile, or the
first load of an entry from the persistent cache, imports them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from artifact_checks import run_fresh_process
from eth.vm.forks.cancun import CancunVM
from message_harness import A, apply_message

from evmkiln.codegen.backend import AotBackend, CompileOptions
from evmkiln.context.artifact_store import code_hash
from evmkiln.context.code_cache import lower_with_pipeline
from evmkiln.context.disk_cache import DiskCache, scan
from evmkiln.context.registry import (
    DeferredBackend,
    UnknownBackendError,
    get_backend,
    is_unresolved,
    resolved,
)

HERE = Path(__file__).resolve().parent
INCREMENT = bytes.fromhex("60003560010160005260206000f3")  # RETURN(calldataload(0) + 1)
OTHER = bytes.fromhex("60026000526020601ff3")
WORD = (41).to_bytes(32, "big")


def test_an_unknown_name_is_refused_at_once() -> None:
    with pytest.raises(UnknownBackendError, match="no-such-backend"):
        DeferredBackend("no-such-backend")


def test_the_name_needs_no_import_and_anything_else_resolves() -> None:
    deferred = DeferredBackend("ir")
    assert deferred.name == "ir" and not deferred.loaded and is_unresolved(deferred)
    assert "not loaded yet" in repr(deferred)
    assert deferred.capabilities() == get_backend("ir").capabilities()
    assert deferred.loaded and not is_unresolved(deferred)
    assert resolved(deferred) is deferred.resolve()
    with pytest.raises(AttributeError):
        deferred.no_such_attribute  # noqa: B018 - the real backend has none either


def _cache(backend: object, directory: Path) -> DiskCache:
    return DiskCache(
        backend,  # type: ignore[arg-type]
        directory,
        fork="cancun",
        options=CompileOptions(),
        background=False,
    )


def test_a_miss_imports_nothing(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    deferred = DeferredBackend("wasm")
    cache = _cache(deferred, tmp_path)
    assert cache.lookup(INCREMENT) is None and cache.refusal(INCREMENT) is None
    assert not deferred.loaded
    # Another build's entry of another code: still nothing to import for.
    (tmp_path / "wasm" / "cancun" / "0123456789abcdef" / code_hash(OTHER).hex()).mkdir(parents=True)
    assert cache.lookup(INCREMENT) is None and not deferred.loaded


def test_an_entry_under_some_key_imports_the_backend_and_loads(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    writer = _cache(get_backend("wasm"), tmp_path)
    writer.store(INCREMENT, lower_with_pipeline(INCREMENT, fork="cancun"))
    assert [e.code_hash for e in scan(tmp_path)] == [code_hash(INCREMENT)]

    deferred = DeferredBackend("wasm")
    reader = _cache(deferred, tmp_path)
    assert reader.lookup(OTHER) is None and not deferred.loaded
    assert reader.lookup(INCREMENT) is not None
    assert deferred.loaded and isinstance(deferred, AotBackend)
    assert reader.directory == writer.directory


def test_a_refusal_under_some_key_is_found(tmp_path: Path) -> None:
    pytest.importorskip("evmkiln.backend_wasm")
    _cache(get_backend("wasm"), tmp_path).remember_refusal(INCREMENT, "refused: too big")
    deferred = DeferredBackend("wasm")
    cache = _cache(deferred, tmp_path)
    assert cache.refusal(OTHER) is None and not deferred.loaded
    assert cache.refusal(INCREMENT) == "refused: too big"


def test_a_backend_that_cannot_write_artifacts_turns_its_cache_off(tmp_path: Path) -> None:
    name = code_hash(INCREMENT).hex()
    (tmp_path / "ir" / "cancun" / "0123456789abcdef" / name).mkdir(parents=True)
    cache = _cache(DeferredBackend("ir"), tmp_path)
    assert cache.lookup(INCREMENT) is None  # found something, imported, cannot load it: off
    cache.store(OTHER, lower_with_pipeline(OTHER, fork="cancun"))
    cache.remember_refusal(OTHER, "refused")
    assert [e.code_hash for e in scan(tmp_path)] == [code_hash(INCREMENT)]  # nothing written
    assert not (tmp_path / "ir" / "cancun" / "0123456789abcdef" / ".refused").exists()
    with pytest.raises(RuntimeError, match="off for the ir backend"):
        _ = cache.directory


FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    from message_harness import A, apply_message
    from evmkiln.context import make_vm_class
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    code = bytes.fromhex(sys.argv[1])
    policy = RuntimePolicy(
        background=False,
        fast_tier="wasm",
        thresholds=(Threshold(calls=3, gas=None), Threshold(calls=6, gas=None)),
    )
    vm_class = make_vm_class("llvm", runtime=policy, code_cache_dir=sys.argv[2], fork="cancun")
    native = ("llvmlite", "wasmtime", "evmkiln.backend_llvm", "evmkiln.backend_wasm")
    seen = []
    for _ in range(int(sys.argv[3])):
        apply_message(vm_class, {A: {"code": code}}, data=(41).to_bytes(32, "big"))
        seen.append(sorted(m for m in native if m in sys.modules))
    stats = vm_class.stats
    print(json.dumps({"imported": seen, "compiled": stats.frames_compiled,
                      "loaded": stats.cache_loaded}))
    vm_class.code_cache.close()
    """
)


@pytest.mark.parametrize("calls", [2, 3])
def test_a_tiered_vm_imports_its_backends_at_the_first_compile(tmp_path: Path, calls: int) -> None:
    pytest.importorskip("evmkiln.backend_llvm")
    pytest.importorskip("evmkiln.backend_wasm")
    args = [INCREMENT.hex(), str(tmp_path), str(calls)]
    out = run_fresh_process(FRESH_PROCESS, args, HERE, env={"EVMKILN_CACHE": "on"})
    # Interpreted twice with nothing imported; the third call compiles on the fast tier.
    assert out["imported"][:2] == [[], []]
    if calls == 3:
        assert "wasmtime" in out["imported"][2] and out["compiled"] == 1
    else:
        assert out["compiled"] == 0


def test_results_match_py_evm_through_a_deferred_backend(tmp_path: Path) -> None:
    from evmkiln.context import make_vm_class
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    policy = RuntimePolicy(
        background=False, fast_tier="ir", thresholds=(Threshold(calls=1, gas=None),) * 2
    )
    vm_class: Any = make_vm_class("ir", runtime=policy, persistent_cache=False, fork="cancun")
    try:
        assert isinstance(vm_class.backend, DeferredBackend)
        accounts = {A: {"code": INCREMENT}}
        for _ in range(3):
            expected = apply_message(CancunVM, accounts, data=WORD)
            assert apply_message(vm_class, accounts, data=WORD) == expected
        assert vm_class.backend.loaded and vm_class.stats.frames_compiled >= 1
    finally:
        vm_class.code_cache.close()
