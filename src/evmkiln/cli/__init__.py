"""Command line interface of evmkiln."""
