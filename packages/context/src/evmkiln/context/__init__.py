"""Runtime context, the py-evm host and the code-hash dispatching VM."""

from evmkiln.builtins.frame import Frame
from evmkiln.builtins.host import ChildResult, Host
from evmkiln.context.code_cache import DispatchStats
from evmkiln.context.flat_state import FlatAccountDB
from evmkiln.context.pyevm_host import PyEvmHost
from evmkiln.context.registry import available_backends, get_backend
from evmkiln.context.runtime import RuntimePolicy, RuntimeStats, Threshold
from evmkiln.context.state_class import with_flat_state
from evmkiln.context.vm import make_vm_class

__all__ = [
    "ChildResult",
    "DispatchStats",
    "FlatAccountDB",
    "Frame",
    "Host",
    "PyEvmHost",
    "RuntimePolicy",
    "RuntimeStats",
    "Threshold",
    "available_backends",
    "get_backend",
    "make_vm_class",
    "with_flat_state",
]
