"""A stack-aware writer of random but well-formed contract code.

Compilers emit code whose stack is balanced at every join point; random bytes
almost never are, so they rarely get past the first few instructions.  The
writer tracks the stack height of the code it emits, so that it can produce
code of the shape compilers do: expressions that leave one value, statements
that leave the stack as they found it, structured branches, loops and
internal functions whose join points agree on the height -- and still break
the rules on purpose where a statement says so (underflow, a bad jump).

Statements are chosen by weight from a *profile* (name -> weight), and each
name is looked up in the statement table given to the writer, so families of
programs are profiles over one shared set of statements.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from evmkiln.codegen.evm.opcodes import BY_NAME
from evmkiln.fuzz import values
from evmkiln.fuzz.asm import Item, Label, Ref

Statement = Callable[["Writer"], None]

BINARY = ["ADD", "MUL", "SUB", "DIV", "SDIV", "MOD", "SMOD", "EXP", "LT", "GT", "SLT", "SGT",
          "EQ", "AND", "OR", "XOR"]  # fmt: skip
SHIFTS = ["SHL", "SHR", "SAR", "BYTE", "SIGNEXTEND"]
"""Binary operations whose first operand (the top of the stack) is a small amount."""
ENVIRONMENT = ["ADDRESS", "ORIGIN", "CALLER", "CALLVALUE", "CALLDATASIZE", "CODESIZE",
               "GASPRICE", "RETURNDATASIZE", "COINBASE", "TIMESTAMP", "NUMBER", "PREVRANDAO",
               "GASLIMIT", "CHAINID", "SELFBALANCE", "BASEFEE", "BLOBBASEFEE", "PC", "MSIZE",
               "GAS"]  # fmt: skip


@dataclass(frozen=True)
class Function:
    """An internal function: its entry label, how many arguments it takes, 0 or 1 results."""

    label: str
    args: int
    returns: int


@dataclass
class Writer:
    """Emits one contract's items; ``tail`` (function bodies, tables) goes after the main code."""

    rng: random.Random
    statements: Mapping[str, Statement]
    profile: Mapping[str, float]
    items: list[Item] = field(default_factory=list)
    tail: list[Item] = field(default_factory=list)
    height: int = 0
    """Values the code emitted so far leaves above the current frame's base."""
    args: int = 0
    """In a function body: arguments below the base, readable with DUP."""
    in_function: bool = False
    loop_depth: int = 0
    nesting: int = 0
    budget: int = 30
    """Statements still to be written (control structures spend it for their bodies)."""
    interactions: int = 4
    """Calls, creations and precompile calls still allowed (each may run other code)."""
    functions: list[Function] = field(default_factory=list)
    unbounded: bool = False
    """Some loop or recursion here may only end by running out of gas: keep the gas small."""
    _names: int = 0
    shared: set[str] = field(default_factory=set)
    """Names of tail pieces emitted once (helpers such as a revert-bubbling block)."""

    # --- emission ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def op(self, name: str) -> None:
        info = BY_NAME[name]
        self.items.append(name)
        self.height += info.pushes - info.pops

    def push(self, value: int) -> None:
        self.items.append(value & values.MAX_WORD)
        self.height += 1

    def ref(self, name: str) -> None:
        self.items.append(Ref(name))
        self.height += 1

    def label(self, name: str) -> None:
        self.items.append(Label(name))

    def raw(self, code: bytes, effect: int = 0) -> None:
        """Bytes emitted verbatim; ``effect`` is their net change of the stack height."""
        self.items.append(code)
        self.height += effect

    def emit(self, *parts: int | str) -> None:
        """Pushes (ints) and opcodes (mnemonics) in order."""
        for part in parts:
            if isinstance(part, int):
                self.push(part)
            else:
                self.op(part)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # --- expressions ------------------------------------------------------------------------

    def expr(self, depth: int = 2) -> None:
        """Code that leaves one value on the stack."""
        r = self.rng.random()
        if depth <= 0 or r < 0.35:
            self.leaf()
        elif r < 0.7:
            self.expr(depth - 1)
            self.expr(depth - 1)
            self.op(self.rng.choice(BINARY))
        elif r < 0.8:
            self.expr(depth - 1)
            self.push(values.small(self.rng))
            self.op(self.rng.choice(SHIFTS))
        elif r < 0.88:
            self.expr(depth - 1)
            self.expr(depth - 1)
            self.expr(depth - 1)
            self.op(self.rng.choice(["ADDMOD", "MULMOD"]))
        else:
            self.expr(depth - 1)
            self.op(self.rng.choice(["ISZERO", "NOT"]))

    def leaf(self) -> None:
        """One value from a constant, the environment, calldata, memory, storage or an account."""
        rng = self.rng
        r = rng.random()
        if self.args and r < 0.2:
            index = rng.randrange(self.args)  # argument i sits args - 1 - i below the base
            dup = self.height + (self.args - 1 - index) + 1
            if dup <= 16:
                self.op(f"DUP{dup}")
                return
        if r < 0.45:
            self.push(values.word(rng))
        elif r < 0.55:
            self.op(rng.choice(ENVIRONMENT))
        elif r < 0.65:
            self.push(rng.choice([0, 4, 36, 68, 100, 1, 31, 2**64]))
            self.op("CALLDATALOAD")
        elif r < 0.72:
            self.push(values.slot(rng))
            self.op(rng.choice(["SLOAD", "SLOAD", "TLOAD"]))
        elif r < 0.8:
            self.push(values.offset(rng))
            self.op("MLOAD")
        elif r < 0.86:
            self.push(values.address(rng))
            self.op(rng.choice(["BALANCE", "EXTCODESIZE", "EXTCODEHASH"]))
        elif r < 0.9:
            self.push(values.size(rng))
            self.push(values.offset(rng))
            self.op("KECCAK256")
        elif r < 0.93:
            if self.chance(0.5):
                self.emit(1, "NUMBER", "SUB")
            else:
                self.push(rng.choice([0, 1, 2**64, values.MAX_WORD]))
            self.op("BLOCKHASH")
        elif r < 0.95:
            self.push(rng.choice([0, 1, 2**255]))
            self.op("BLOBHASH")
        else:
            self.push(rng.getrandbits(256))

    def sink(self) -> None:
        """Consume the value on top: into memory, storage, transient storage, or dropped."""
        r = self.rng.random()
        if r < 0.35:
            self.push(values.offset(self.rng))
            self.op("MSTORE")
        elif r < 0.6:
            self.push(values.slot(self.rng))
            self.op("SSTORE")
        elif r < 0.7:
            self.push(values.slot(self.rng))
            self.op("TSTORE")
        elif r < 0.78:
            self.push(values.offset(self.rng))
            self.op("MSTORE8")
        else:
            self.op("POP")

    def store_result(self) -> None:
        """Consume the value on top where the transaction's outcome shows it (storage or memory)."""
        if self.chance(0.6):
            self.push(values.slot(self.rng))
            self.op("SSTORE")
        else:
            self.push(values.offset(self.rng))
            self.op("MSTORE")

    # --- statements -------------------------------------------------------------------------

    def block(self, count: int) -> None:
        """Up to ``count`` statements (fewer when the contract's budget runs out)."""
        for _ in range(count):
            if self.budget <= 0:
                return
            self.budget -= 1
            self.statement()

    def statement(self) -> None:
        names = [name for name in self.profile if self.allowed(name)]
        weights = [self.profile[name] for name in names]
        if not names:
            self.expr()
            self.sink()
            return
        self.statements[self.rng.choices(names, weights)[0]](self)

    def allowed(self, name: str) -> bool:
        """Whether statement ``name`` may be written here (nesting and interaction limits)."""
        if name in NESTING and self.nesting >= 3:
            return False
        if name in INTERACTING and (self.loop_depth > 0 or self.interactions <= 0):
            return False
        return not (name in FUNCTIONS and self.in_function and not self.functions)

    def nested(self, count: int) -> None:
        """A block inside a control structure."""
        self.nesting += 1
        self.block(count)
        self.nesting -= 1

    def with_body(self, body: Callable[[], None], args: int) -> list[Item]:
        """The items ``body`` writes as a separate function body with ``args`` arguments."""
        saved = (self.items, self.height, self.args, self.in_function, self.loop_depth)
        self.items, self.height, self.args, self.in_function, self.loop_depth = [], 0, args, True, 0
        try:
            body()
            return self.items
        finally:
            self.items, self.height, self.args, self.in_function, self.loop_depth = saved

    def once(self, name: str, items: Iterable[Item]) -> None:
        """Append ``items`` to the tail the first time ``name`` is asked for."""
        if name not in self.shared:
            self.shared.add(name)
            self.tail.extend(items)


NESTING = frozenset({"if", "if_else", "loop", "memory_loop", "storage_loop", "jump_table"})
INTERACTING = frozenset({"call", "precompile", "create", "create2_twice", "callback"})
FUNCTIONS = frozenset({"function_call"})
