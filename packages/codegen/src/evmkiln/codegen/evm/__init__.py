"""EVM bytecode: the opcode table, decoding and block analysis."""
