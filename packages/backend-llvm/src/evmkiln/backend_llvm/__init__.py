"""LLVM backend (llvmlite): native JIT of evmkiln IR."""

from evmkiln.backend_llvm.backend import LlvmBackend, LlvmExecutable

__all__ = ["LlvmBackend", "LlvmExecutable"]
