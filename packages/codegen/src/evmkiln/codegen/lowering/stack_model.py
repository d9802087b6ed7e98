"""The EVM stack of one block version, as SSA values.

In a known-height version the model starts as the block's parameters (the
whole stack).  In a dynamic version it starts empty: reading below what the
block pushed loads the slot from the stack buffer once, and at the block's exit
:meth:`StackModel.flush` stores back only the slots whose value changed.
"""

from __future__ import annotations

from evmkiln.codegen.ir.builder import Builder
from evmkiln.codegen.ir.function import Value
from evmkiln.codegen.ir.types import Type


class StackModel:
    def __init__(self, builder: Builder, values: list[Value], sp: Value | None) -> None:
        self.b = builder
        self.items = values
        """Top of stack last.  In a dynamic version, ``items[i]`` is slot ``i - consumed``."""
        self.sp = sp
        self.consumed = 0
        self.loaded: dict[int, Value] = {}

    def ensure(self, depth: int) -> None:
        """Make the top ``depth`` slots available as values."""
        while len(self.items) < depth:
            assert self.sp is not None, "known-height block read below its stack"
            self.consumed += 1
            v = self.b.value("stack.load", self.sp, imms=(-self.consumed,))
            self.loaded[-self.consumed] = v
            self.items.insert(0, v)

    def pop(self) -> Value:
        self.ensure(1)
        return self.items.pop()

    def pop_n(self, n: int) -> list[Value]:
        """Pop ``n`` values, top of stack first."""
        self.ensure(n)
        if n == 0:
            return []
        out = self.items[-n:]
        del self.items[-n:]
        out.reverse()
        return out

    def push(self, v: Value) -> None:
        self.items.append(v)

    def dup(self, n: int) -> None:
        self.ensure(n)
        self.items.append(self.items[-n])

    def swap(self, n: int) -> None:
        self.ensure(n + 1)
        s = self.items
        s[-1], s[-1 - n] = s[-1 - n], s[-1]

    def flush(self) -> Value:
        """Dynamic version: store changed slots and return the new stack pointer."""
        sp = self.sp
        assert sp is not None
        base = -self.consumed
        for i, v in enumerate(self.items):
            slot = base + i
            if self.loaded.get(slot) is not v:
                self.b.op("stack.store", sp, v, imms=(slot,))
        delta = len(self.items) - self.consumed
        if delta == 0:
            return sp
        return self.b.value("iadd_imm", sp, imms=(delta,))

    def spill_all(self) -> Value:
        """Known-height version: store the whole stack at slots 0.. and return ``sp``."""
        if self.items:
            zero = self.b.const(0, Type.I64)
            for i, v in enumerate(self.items):
                self.b.op("stack.store", zero, v, imms=(i,))
        return self.b.const(len(self.items), Type.I64)
