"""LLVM backend (llvmlite): native JIT and AOT."""
