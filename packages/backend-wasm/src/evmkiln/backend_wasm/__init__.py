"""WebAssembly backend on wasmtime."""
