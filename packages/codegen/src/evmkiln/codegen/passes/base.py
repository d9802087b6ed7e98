"""The pass protocol."""

from __future__ import annotations

from typing import Protocol

from evmkiln.codegen.ir.function import Function


class Pass(Protocol):
    name: str

    def run_pass(self, function: Function) -> bool:
        """Transform ``function`` in place; return whether anything changed."""
        ...
