"""Runtime context, the py-evm host and the code-hash dispatching VM."""
