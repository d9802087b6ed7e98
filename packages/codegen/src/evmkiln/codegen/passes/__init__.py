"""IR passes: one pass per module, each a class with ``run_pass(function) -> bool``.

Which passes run at which optimisation level is listed in one place,
:mod:`evmkiln.codegen.passes.levels`.
"""

from evmkiln.codegen.passes.base import Pass
from evmkiln.codegen.passes.levels import passes_for_level, run_passes

__all__ = ["Pass", "passes_for_level", "run_passes"]
