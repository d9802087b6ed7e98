"""EVM bytecode -> IR."""
