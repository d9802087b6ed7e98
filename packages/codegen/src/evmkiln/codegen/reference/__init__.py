"""The reference backend: a pure-Python interpreter of the IR.

It defines what every IR instruction means; native backends are tested
against it and against py-evm.
"""

from evmkiln.codegen.reference.backend import ReferenceBackend, ReferenceExecutable

__all__ = ["ReferenceBackend", "ReferenceExecutable"]
