"""Compiled code whose engine and LLVM context die together in a garbage cycle.

The collector finalizes a cycle's objects in no particular order; an engine
disposed after its context used to free its module twice and kill the
process.  Run in a child process: the failure is a segmentation fault.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("llvmlite")

SCRIPT = textwrap.dedent(
    """
    import gc
    import llvmlite.binding as llvm
    from evmkiln.backend_llvm import jit

    obj = jit.object_code("define i32 @f() {\\n  ret i32 7\\n}", 2, 0)
    for i in range(100):
        context = llvm.create_context()
        compiled = jit.load_object(obj, "f", context)
        # Both orders of the cycle's members: finalizers run in list order.
        box = [context, compiled] if i % 2 else [compiled, context]
        box.append(box)
        del box, compiled, context
        gc.collect()
    print("survived")
    """
)


def test_an_engine_and_its_context_in_a_garbage_cycle_are_freed_safely() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "survived"
