"""Parsing the IR's text form back into a :class:`Function`.

The parser accepts exactly what :mod:`printer` writes, so IR round-trips
(``format_function(parse_function(text)) == text``) and tests of lowering and
passes can be written and compared as text.  Value names (``v12``) keep
their numbers.  The result is not verified: call :func:`verifier.verify`.
"""

from __future__ import annotations

import re

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst, Value
from evmkiln.codegen.ir.opcodes import INSTS
from evmkiln.codegen.ir.types import TYPE_BY_NAME, Type


class ParseError(Exception):
    """The text is not valid IR; the message names the line."""


_FUNCTION = re.compile(r"^function\s+([\w.]+)\s*\{$")
_BLOCK = re.compile(r"^([A-Za-z_]\w*)(?:\((.*)\))?:$")
_TARGET = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$")
_VALUE = re.compile(r"^v(\d+)$")
_INT = re.compile(r"^-?(0x[0-9a-fA-F]+|\d+)$")


def _split_operands(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = [(n + 1, line.strip()) for n, line in enumerate(text.splitlines())]
        self.lines = [(n, line) for n, line in self.lines if line and not line.startswith(";")]
        self.values: dict[int, Value] = {}
        self.blocks: dict[str, Block] = {}
        self.lineno = 0

    def fail(self, msg: str) -> ParseError:
        return ParseError(f"line {self.lineno}: {msg}")

    def define(self, vid: int, ty: Type) -> Value:
        if vid in self.values:
            raise self.fail(f"v{vid} is defined twice")
        v = Value(vid, ty)
        self.values[vid] = v
        return v

    def use(self, token: str) -> Value:
        m = _VALUE.match(token)
        if m is None:
            raise self.fail(f"expected a value, got {token!r}")
        v = self.values.get(int(m.group(1)))
        if v is None:
            raise self.fail(f"{token} is used before it is defined")
        return v

    def parse(self) -> Function:
        if not self.lines:
            raise ParseError("empty text")
        self.lineno, head = self.lines[0]
        m = _FUNCTION.match(head)
        if m is None:
            raise self.fail("expected 'function NAME {'")
        function = Function(m.group(1))
        body = self.lines[1:]
        if not body or body[-1][1] != "}":
            raise ParseError("missing closing '}'")
        body = body[:-1]
        # First pass: blocks and their parameters, so branches may refer forward.
        for self.lineno, line in body:
            bm = _BLOCK.match(line)
            if bm is None:
                continue
            name = bm.group(1)
            if name in self.blocks:
                raise self.fail(f"block {name} is defined twice")
            block = Block(name)
            for param in _split_operands(bm.group(2) or ""):
                pname, _, tname = (s.strip() for s in param.partition(":"))
                vm = _VALUE.match(pname)
                if vm is None or tname not in TYPE_BY_NAME:
                    raise self.fail(f"bad block parameter {param!r}")
                block.params.append(self.define(int(vm.group(1)), TYPE_BY_NAME[tname]))
            self.blocks[name] = block
            function.blocks.append(block)
        jump_table_line: tuple[int, str] | None = None
        current: Block | None = None
        for self.lineno, line in body:
            if line.startswith("jumptable "):
                jump_table_line = (self.lineno, line)
                continue
            bm = _BLOCK.match(line)
            if bm is not None:
                current = self.blocks[bm.group(1)]
                continue
            if current is None:
                raise self.fail("instruction outside a block")
            inst = self.parse_inst(line)
            if INSTS[inst.opcode].terminator:
                if current.term is not None:
                    raise self.fail(f"{current.name} has two terminators")
                current.term = inst
            else:
                current.insts.append(inst)
        if jump_table_line is not None:
            self.lineno, line = jump_table_line
            for entry in _split_operands(line[len("jumptable ") :]):
                pc, _, target = (s.strip() for s in entry.partition("->"))
                if target not in self.blocks or not _INT.match(pc):
                    raise self.fail(f"bad jump table entry {entry!r}")
                function.jump_table[int(pc, 0)] = self.blocks[target]
        function.next_value = max(self.values, default=-1) + 1
        return function

    def parse_inst(self, line: str) -> Inst:
        lhs, eq, rhs = line.partition(" = ")
        if not eq:
            lhs, rhs = "", line
        opcode, _, rest = rhs.strip().partition(" ")
        d = INSTS.get(opcode)
        if d is None:
            raise self.fail(f"unknown instruction {opcode!r}")
        if opcode == "call":
            cm = _TARGET.match(rest.strip())
            if cm is None or cm.group(1) not in BUILTINS:
                raise self.fail(f"bad builtin call {rest!r}")
            name = cm.group(1)
            args = [self.use(a) for a in _split_operands(cm.group(2))]
            result_types = [TYPE_BY_NAME[t] for t in BUILTINS[name].results]
            inst = Inst("call", args, imms=(name,))
        else:
            args, imms, targets = [], [], []
            for tok in _split_operands(rest):
                if _VALUE.match(tok):
                    args.append(self.use(tok))
                elif _INT.match(tok):
                    imms.append(int(tok, 0))
                elif (tm := _TARGET.match(tok)) is not None:
                    block = self.blocks.get(tm.group(1))
                    if block is None:
                        raise self.fail(f"unknown block {tm.group(1)}")
                    targets.append(
                        BlockCall(block, [self.use(a) for a in _split_operands(tm.group(2))])
                    )
                else:
                    raise self.fail(f"cannot read operand {tok!r}")
            result_types = list(d.results)
            inst = Inst(opcode, args, imms=tuple(imms), targets=targets)
        names = _split_operands(lhs) if lhs else []
        if len(names) != len(result_types):
            raise self.fail(f"{opcode} defines {len(result_types)} values, not {len(names)}")
        for tok, ty in zip(names, result_types, strict=True):
            vm = _VALUE.match(tok)
            if vm is None:
                raise self.fail(f"bad result name {tok!r}")
            inst.results.append(self.define(int(vm.group(1)), ty))
        return inst


def parse_function(text: str) -> Function:
    """Parse one function in the printer's text form."""
    return _Parser(text).parse()
