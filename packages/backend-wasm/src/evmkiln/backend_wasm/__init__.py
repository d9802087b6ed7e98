"""WebAssembly backend on wasmtime: IR -> a wasm module per contract, run through wasmtime."""

from evmkiln.backend_wasm.backend import CompileTimes, WasmBackend, WasmExecutable

__all__ = ["CompileTimes", "WasmBackend", "WasmExecutable"]
