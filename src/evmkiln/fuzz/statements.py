"""Statements of a contract's own: data flow, control flow, memory, storage, and faults.

Each statement is a function of a :class:`~evmkiln.fuzz.writer.Writer` that
leaves the stack height as it found it (faults excepted: they end the
frame).  Control structures follow the shapes compilers emit: Solidity's
internal calls (return address pushed, shared body, return through a dynamic
JUMP), recursion, computed jumps into a table, loops with a counter on the
stack, in memory (Vyper) or in storage.
"""

from __future__ import annotations

from evmkiln.fuzz import values
from evmkiln.fuzz.asm import Item, Label, Mark, Ref
from evmkiln.fuzz.writer import Function, Statement, Writer

COUNTERS_IN_MEMORY = 0x1000
"""Loop counters kept in memory live here, above every offset ordinary statements use."""
COUNTER_SLOTS = 0x100
"""Loop counters kept in (transient) storage use these slots."""
TABLE_ENTRY = 7
"""Bytes per jump-table entry: JUMPDEST, PUSH1 v, PUSH2 join, JUMP."""


def assign(w: Writer) -> None:
    w.expr(w.rng.choice([1, 2, 2, 3]))
    w.sink()


def store(w: Writer) -> None:
    w.expr(2)
    w.store_result()


def stack_shuffle(w: Writer) -> None:
    """Many live values, reached with deep DUPs and SWAPs, folded into one: a busy function's
    locals, as solc keeps them on the stack."""
    rng = w.rng
    count = rng.randint(2, 12) if rng.random() < 0.75 else rng.choice([15, 16, 17])
    for _ in range(count):
        w.expr(1)
    live = count
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.4 and live <= 16:
            w.op(f"DUP{rng.randint(1, live)}")
            live += 1
        elif r < 0.8 and live > 1:
            w.op(f"SWAP{rng.randint(1, min(live - 1, 16))}")
        elif live > 1:
            w.op(rng.choice(["ADD", "XOR", "MUL", "SUB", "LT", "AND"]))
            live -= 1
    while live > 1:
        w.op(rng.choice(["ADD", "XOR", "OR", "SUB"]))
        live -= 1
    w.store_result()


def sstore_sequence(w: Writer) -> None:
    """Several writes to one slot: set, reset, clear (the EIP-2200/3529 gas and refund cases)."""
    slot = values.slot(w.rng)
    for _ in range(w.rng.randint(1, 3)):
        w.push(w.rng.choice([0, 0, 1, 2, values.word(w.rng)]))
        w.push(slot)
        w.op(w.rng.choice(["SSTORE", "SSTORE", "TSTORE"]))
    if w.chance(0.5):
        w.push(slot)
        w.op("SLOAD")
        w.store_result()


def log(w: Writer) -> None:
    topics = w.rng.randrange(5)
    for _ in range(topics):
        w.expr(1)
    w.push(values.size(w.rng))
    w.push(values.offset(w.rng))
    w.op(f"LOG{topics}")


def copy(w: Writer) -> None:
    """MCOPY, CALLDATACOPY, CODECOPY, EXTCODECOPY or RETURNDATACOPY of a small region."""
    rng = w.rng
    kind = rng.choice(["MCOPY", "CALLDATACOPY", "CODECOPY", "EXTCODECOPY", "RETURNDATACOPY"])
    if kind == "RETURNDATACOPY" and rng.random() < 0.7:
        w.emit("RETURNDATASIZE", 0, values.offset(rng), kind)  # all of it
        return
    w.push(values.size(rng))
    if kind == "RETURNDATACOPY":
        w.push(rng.choice([0, 0, 1, 32]))  # past the return data: an exceptional halt
    else:
        w.push(rng.choice([0, 4, 32, values.offset(rng), 2**64]))
    w.push(values.offset(rng))
    if kind == "EXTCODECOPY":
        w.push(values.address(rng))
    w.op(kind)


def memory_edge(w: Writer) -> None:
    """A memory access at the limits: huge offsets, zero sizes, expansion close to the gas left."""
    rng = w.rng
    offset = values.edge_offset(rng)
    size = rng.choice([0, 0, 1, 32, values.edge_offset(rng)])
    kind = rng.randrange(8)
    if kind == 0:
        w.expr(1)
        w.push(offset)
        w.op(rng.choice(["MSTORE", "MSTORE8"]))
    elif kind == 1:
        w.push(offset)
        w.op("MLOAD")
        w.sink()
    elif kind == 2:
        w.push(size)
        w.push(rng.choice([0, offset]))
        w.push(rng.choice([0, offset]))
        w.op("MCOPY")
    elif kind == 3:
        w.push(size)
        w.push(rng.choice([0, 2**64, values.MAX_WORD]))  # a source offset past the data is fine
        w.push(offset)
        w.op(rng.choice(["CALLDATACOPY", "CODECOPY"]))
    elif kind == 4:
        w.push(size)
        w.push(offset)
        w.op("KECCAK256")
        w.sink()
    elif kind == 5:
        w.push(size)
        w.push(offset)
        w.op("LOG0")
    elif kind == 6:
        w.push(rng.choice([0, 32]))
        w.push(offset)
        w.push(size)
        w.push(0)
        w.push(0)
        w.push(values.ADDRESS_WORDS["b"])
        w.op("GAS")
        w.op("CALL")  # a huge return or argument region: expansion is paid before the call
        w.sink()
    else:
        w.push(size)
        w.push(offset)
        w.op("MSIZE")
        w.op("POP")
        w.op(rng.choice(["RETURN", "REVERT"]))


def conditional(w: Writer) -> None:
    skip = w.fresh("skip")
    w.expr(2)
    if w.chance(0.6):
        w.op("ISZERO")
    w.ref(skip)
    w.op("JUMPI")
    w.nested(w.rng.randint(1, 3))
    w.label(skip)


def if_else(w: Writer) -> None:
    then, end = w.fresh("then"), w.fresh("end")
    w.expr(2)
    w.ref(then)
    w.op("JUMPI")
    w.nested(w.rng.randint(1, 3))
    w.ref(end)
    w.op("JUMP")
    w.label(then)
    w.nested(w.rng.randint(1, 3))
    w.label(end)


def _iterations(w: Writer) -> None:
    """Push a loop count: mostly a few, sometimes from calldata, rarely one gas cannot pay for."""
    r = w.rng.random()
    if r < 0.8:
        w.push(w.rng.randint(0, 5))
    elif r < 0.95:
        w.emit(w.rng.choice([0, 4, 36]), "CALLDATALOAD", 7, "AND")
    else:
        w.push(w.rng.choice([2**32, values.MAX_WORD]))
        w.unbounded = True


def loop(w: Writer) -> None:
    """``for (i = n; i != 0; i--)`` with the counter on the stack, as Solidity keeps locals."""
    top, end = w.fresh("loop"), w.fresh("done")
    _iterations(w)
    w.label(top)
    w.emit("DUP1", "ISZERO")
    w.ref(end)
    w.op("JUMPI")
    w.loop_depth += 1
    w.nested(w.rng.randint(1, 3))
    w.loop_depth -= 1
    w.emit(1, "SWAP1", "SUB")
    w.ref(top)
    w.op("JUMP")
    w.label(end)
    w.op("POP")


def memory_loop(w: Writer) -> None:
    """A loop whose counter lives in memory and is reloaded each time, as Vyper writes them."""
    counter = COUNTERS_IN_MEMORY + 32 * w.loop_depth
    top, end = w.fresh("mloop"), w.fresh("mdone")
    _iterations(w)
    w.emit(counter, "MSTORE")
    w.label(top)
    w.emit(counter, "MLOAD", "ISZERO")
    w.ref(end)
    w.op("JUMPI")
    w.loop_depth += 1
    w.nested(w.rng.randint(1, 3))
    w.loop_depth -= 1
    w.emit(1, counter, "MLOAD", "SUB", counter, "MSTORE")
    w.ref(top)
    w.op("JUMP")
    w.label(end)


def storage_loop(w: Writer) -> None:
    """A loop counting in a storage or transient slot (gas per iteration depends on warmth)."""
    load, save = ("TLOAD", "TSTORE") if w.chance(0.5) else ("SLOAD", "SSTORE")
    counter = COUNTER_SLOTS + w.loop_depth
    top, end = w.fresh("sloop"), w.fresh("sdone")
    _iterations(w)
    w.emit(counter, save)
    w.label(top)
    w.emit(counter, load, "ISZERO")
    w.ref(end)
    w.op("JUMPI")
    w.loop_depth += 1
    w.nested(w.rng.randint(1, 2))
    w.loop_depth -= 1
    w.emit(1, counter, load, "SUB", counter, save)
    w.ref(top)
    w.op("JUMP")
    w.label(end)


def _define_function(w: Writer) -> Function:
    rng = w.rng
    function = Function(w.fresh("fn"), rng.randint(0, 3), rng.randint(0, 1))

    def body() -> None:
        w.label(function.label)
        w.block(rng.randint(1, 4))
        if function.returns:
            w.expr(2)
        for _ in range(function.args):  # drop the arguments below the result
            if function.returns:
                w.op("SWAP1")
            w.op("POP")
        if function.returns:
            w.op("SWAP1")
        w.op("JUMP")  # to the return address the caller pushed first

    w.tail.extend(w.with_body(body, function.args))
    w.functions.append(function)
    return function


def function_call(w: Writer) -> None:
    """Solidity's internal call: push the return address and arguments, jump to a shared body.

    Bodies are shared between call sites, so the JUMP that returns has as many
    targets as there are calls: it is dynamic for a compiler.
    """
    if w.functions and (w.in_function or len(w.functions) >= 4 or w.chance(0.6)):
        function = w.rng.choice(w.functions)
    else:
        function = _define_function(w)
    back = w.fresh("ret")
    height = w.height
    w.ref(back)
    for _ in range(function.args):
        w.expr(1)
    w.ref(function.label)
    w.op("JUMP")
    w.label(back)
    w.height = height + function.returns
    if function.returns:
        w.sink()


def recursion(w: Writer) -> None:
    """A call to a recursive function f(n) = n == 0 ? c : f(n - 1) op n."""
    rng = w.rng
    combines: list[list[Item]] = [["DUP2", "ADD"], ["DUP2", "MUL"], ["DUP2", "XOR"], [3, "ADD"]]
    combine = rng.choice(combines)
    w.once(
        "recursive",
        [
            Label("rec"),  # [ret, n]
            "DUP1", "ISZERO", Ref("rec_base"), "JUMPI",
            Ref("rec_back"), 1, "DUP3", "SUB", Ref("rec"), "JUMP",  # [ret, n, back, n-1]
            Label("rec_back"),  # [ret, n, f(n-1)]
            *combine,
            "SWAP1", "POP", "SWAP1", "JUMP",
            Label("rec_base"),  # [ret, n]
            "POP", 7, "SWAP1", "JUMP",
        ],
    )  # fmt: skip
    back = w.fresh("rret")
    height = w.height
    w.ref(back)
    r = rng.random()
    if r < 0.75:
        w.push(rng.choice([0, 1, 2, 3, 5, 10, 20, 40]))
    elif r < 0.9:
        w.emit(rng.choice([0, 4, 36]), "CALLDATALOAD", 63, "AND")
    else:
        w.push(rng.choice([510, 511, 600, 2**20]))  # the stack overflows at 1024
    w.ref("rec")
    w.op("JUMP")
    w.label(back)
    w.height = height + 1
    w.store_result()


def jump_table(w: Writer) -> None:
    """``goto table[i]``: the target is computed (base + i * entry size), never pushed."""
    rng = w.rng
    entries = rng.randint(2, 6)
    base, join = w.fresh("table"), w.fresh("join")
    height = w.height
    w.expr(1)
    if w.chance(0.85):
        w.emit(entries, "SWAP1", "MOD")  # in range; without it, anywhere (a bad jump, mostly)
    w.emit(TABLE_ENTRY, "MUL")
    w.ref(base)
    w.emit("ADD", "JUMP")
    for index in range(entries):
        w.items.append(Label(base) if index == 0 else Label(w.fresh("entry")))
        w.items.append(b"\x60" + bytes([rng.randrange(256)]))
        w.items.append(Ref(join))
        w.items.append("JUMP")
    w.label(join)
    w.height = height + 1
    w.store_result()


def checked_arithmetic(w: Writer) -> None:
    """Addition or subtraction with an overflow check that reverts, as Vyper and Solidity 0.8 do."""
    w.expr(1)
    w.expr(1)  # [a, b]
    if w.chance(0.5):
        w.emit("DUP2", "DUP2", "ADD", "DUP1", "DUP3", "GT")  # [a, b, a+b, b > a+b]
    else:
        w.emit("DUP1", "DUP3", "SUB", "DUP2", "DUP4", "LT")  # [a, b, a-b, a < b]
    w.ref("fail")
    w.op("JUMPI")
    w.emit("SWAP2", "POP", "POP")
    w.sink()
    w.once("fail", [Label("fail"), 0, 0, "REVERT"])


MEMORY_FRAMES = 0x1100
"""Where memory-convention functions keep their return pc, argument and result."""


def memory_call(w: Writer) -> None:
    """An internal call that passes the return pc, argument and result through memory (Vyper).

    The return is ``MLOAD`` then ``JUMP``: a target no stack analysis can see.
    """
    if w.in_function:
        assign(w)
        return
    index = w.rng.randrange(3)
    frame = MEMORY_FRAMES + 0x60 * index
    entry, back = f"mfn{index}", w.fresh("mret")
    if entry not in w.shared:
        w.shared.add(entry)

        def body() -> None:
            w.label(entry)
            w.nested(w.rng.randint(1, 3))
            w.emit(frame + 32, "MLOAD")
            w.expr(1)
            w.op(w.rng.choice(["ADD", "MUL", "XOR", "SUB"]))
            w.emit(frame + 64, "MSTORE", frame, "MLOAD", "JUMP")

        w.tail.extend(w.with_body(body, 0))
    w.ref(back)
    w.emit(frame, "MSTORE")
    w.expr(1)
    w.emit(frame + 32, "MSTORE")
    w.items.append(Ref(entry))
    w.items.append("JUMP")
    w.label(back)
    w.emit(frame + 64, "MLOAD")
    w.store_result()


def exit_if(w: Writer) -> None:
    """A conditional early exit: RETURN, REVERT, STOP or INVALID when some value is zero."""
    go, stay = w.fresh("exit"), w.fresh("stay")
    w.expr(1)
    w.ref(stay)
    w.op("JUMPI")
    w.label(go)
    exit_frame(w)
    w.label(stay)


def exit_frame(w: Writer) -> None:
    """End the frame: mostly RETURN of memory, else STOP, REVERT, INVALID or SELFDESTRUCT."""
    rng = w.rng
    height = w.height
    r = rng.random()
    if r < 0.45:
        w.push(rng.choice([0, 32, 32, 64, 96, 128]))
        w.push(rng.choice([0, 0, 32, 0x80]))
        w.op("RETURN")
    elif r < 0.6:
        w.op("STOP")
    elif r < 0.75:
        w.push(rng.choice([0, 4, 32, 68]))
        w.push(rng.choice([0, 0x80]))
        w.op("REVERT")
    elif r < 0.82:
        w.op("INVALID")
    elif r < 0.9:
        w.raw(bytes([rng.choice([0x0C, 0x21, 0x4B, 0xA5, 0xEF, 0xF6, 0xFC])]))
    elif rng.random() < 0.3:
        w.op(rng.choice(["ADDRESS", "CALLER", "ORIGIN"]))
        w.op("SELFDESTRUCT")
    else:
        w.push(values.address(rng))
        w.op("SELFDESTRUCT")
    w.height = height


def fault(w: Writer) -> None:
    """Break a rule on purpose: a bad jump, a stack underflow or overflow, an invalid opcode."""
    rng = w.rng
    kind = rng.randrange(8)
    height = w.height
    if kind == 0:  # into PUSH data: a 0x5b byte that is not a JUMPDEST
        mark = w.fresh("data")
        w.ref(mark)
        w.op("JUMP")
        w.raw(b"\x61")
        w.items.append(Mark(mark))
        w.raw(b"\x5b\x5b\x50")  # the PUSH2's data, then POP
    elif kind == 1:  # JUMPI to a bad target that is not taken: no halt
        w.emit(0, rng.choice([0xFFFF, values.MAX_WORD, 2**32 + 1]))
        w.op("JUMPI")
        return
    elif kind == 2:  # to an instruction that is not a JUMPDEST
        mark = w.fresh("mark")
        w.ref(mark)
        w.op("JUMP")
        w.items.append(Mark(mark))
        w.raw(b"\x5f\x50")
    elif kind == 3:  # underflow: an operation needing more values than the frame has
        if w.in_function:  # the caller's values lie below: pop far past them
            w.raw(b"\x50" * 64)
        elif w.height < 16 and w.chance(0.5):
            w.op(f"DUP{w.height + 1}")
        elif 0 < w.height < 17:
            w.op(f"SWAP{w.height}")
        else:
            w.raw(b"\x50" * (w.height + 1))
    elif kind == 4:  # overflow: push forever
        top = w.fresh("flood")
        w.label(top)
        w.raw(b"\x58")  # PC
        w.items.append(Ref(top))
        w.items.append("JUMP")
    elif kind == 5:  # 1025 pushes in straight-line code
        w.raw(b"\x5f" * 1025)
    elif kind == 6:  # past the end of the code, or a word no code reaches
        w.push(rng.choice([0xFFFF, 2**32, 2**64 + 2, values.MAX_WORD]))
        w.op("JUMP")
    else:
        w.raw(bytes([rng.choice([0xFE, 0x0C, 0x0D, 0x1E, 0x2F, 0x4C, 0xB0, 0xEF, 0xF7])]))
    w.height = height


STATEMENTS: dict[str, Statement] = {
    "assign": assign,
    "store": store,
    "sstore_sequence": sstore_sequence,
    "stack_shuffle": stack_shuffle,
    "log": log,
    "copy": copy,
    "memory_edge": memory_edge,
    "if": conditional,
    "if_else": if_else,
    "loop": loop,
    "memory_loop": memory_loop,
    "storage_loop": storage_loop,
    "function_call": function_call,
    "recursion": recursion,
    "jump_table": jump_table,
    "checked_arithmetic": checked_arithmetic,
    "memory_call": memory_call,
    "exit_if": exit_if,
    "fault": fault,
}
