"""The configurations a workload runs on: stock py-evm and evmkiln's runtime modes.

Each is a name and a way to make the VM class in a fresh process.  Cold
configurations run with the persistent code cache turned off
(``EVMKILN_CACHE=off``, honoured once that cache exists) so that nothing a
previous process compiled can answer; ``warm-cache`` is the one meant to find
a cache filled by a first run of itself (see :mod:`evmkiln.workload.driver`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Configuration:
    name: str
    label: str
    backend: str | None
    """evmkiln backend (``None``: stock py-evm)."""
    runtime: str | None
    """``tiered`` (``RuntimePolicy()``'s defaults), ``tiered-same-priority`` (the same with
    ``compiler_nice=0``: compiles compete with the frames, for contrast), ``dispatch``
    (tiered, never promoting: the dispatch path's overhead alone), or ``None`` (blocking)."""
    persistent: bool = False
    """Uses the persistent code cache (needs a cache directory)."""


CONFIGURATIONS: dict[str, Configuration] = {
    c.name: c
    for c in (
        Configuration("pyevm", "stock py-evm", None, None),
        Configuration("tiered", "evmkiln default policy (llvm, wasm fast tier)", "llvm", "tiered"),
        Configuration(
            "tiered-same-priority",
            "evmkiln default policy, compiles at the frames' priority",
            "llvm",
            "tiered-same-priority",
        ),
        Configuration("blocking-llvm", "evmkiln blocking llvm", "llvm", None),
        Configuration("blocking-wasm", "evmkiln blocking wasm", "wasm", None),
        Configuration("dispatch", "evmkiln dispatch only (never compiles)", "llvm", "dispatch"),
        Configuration(
            "warm-cache", "evmkiln default policy, warm persistent cache", "llvm", "tiered", True
        ),
    )
}
DEFAULT_CONFIGURATIONS = ("pyevm", "tiered", "blocking-llvm", "blocking-wasm")
REFERENCE = "pyevm"


def persistent_cache_available() -> bool:
    """Whether this evmkiln has the persistent code cache (``make_vm_class(persistent_cache=)``)."""
    from evmkiln.context import make_vm_class

    return "persistent_cache" in inspect.signature(make_vm_class).parameters


def make_configuration_vm(config: Configuration, cache_dir: Path | None) -> type[Any]:
    """The VM class of ``config`` (imports only what the configuration needs)."""
    if config.backend is None:
        from eth.vm.forks.cancun import CancunVM

        return CancunVM
    from evmkiln.context import make_vm_class
    from evmkiln.context.runtime import RuntimePolicy, Threshold

    kwargs: dict[str, Any] = {}
    if config.runtime == "tiered":
        kwargs["runtime"] = RuntimePolicy()
    elif config.runtime == "tiered-same-priority":
        kwargs["runtime"] = RuntimePolicy(compiler_nice=0)
    elif config.runtime == "dispatch":
        never = Threshold(calls=None, gas=None)
        kwargs["runtime"] = RuntimePolicy(thresholds=(never,))
    if persistent_cache_available():
        kwargs["persistent_cache"] = config.persistent
        if config.persistent:
            kwargs["code_cache_dir"] = cache_dir
    elif config.persistent:
        raise RuntimeError(
            "this evmkiln has no persistent code cache (make_vm_class(persistent_cache=...))"
        )
    vm_class: type[Any] = make_vm_class(config.backend, "cancun", **kwargs)  # the chain is Cancun
    return vm_class
