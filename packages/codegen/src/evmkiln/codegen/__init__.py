"""Bytecode analysis, the SSA IR, EVM->IR lowering, passes, the Backend protocol and the
reference backend."""
