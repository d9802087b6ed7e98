"""A small WebAssembly binary encoder: LEB128, instructions, sections, modules.

Code generation produces *instruction streams* -- lists of tuples such as
``("local.get", 3)`` or ``("i64.load", 3, 8)`` -- and a :class:`Module`
describing types, imports, functions, memory and exports.  The same stream is
encoded here into the binary format and printed by :mod:`.wat` as text, so
``--emit wat`` shows exactly what was compiled.  Only the instructions the
backend emits are in :data:`OPCODES`; an unknown name fails loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from evmkiln.backend_wasm import limits

Instr = tuple[object, ...]
"""An instruction: its text name followed by its immediates."""

I32, I64 = 0x7F, 0x7E
VALTYPE_NAMES = {I32: "i32", I64: "i64"}


def uleb(n: int) -> bytes:
    """Unsigned LEB128."""
    if n < 0:
        raise ValueError(f"negative unsigned LEB128 {n}")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n: int) -> bytes:
    """Signed LEB128."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def signed(value: int, bits: int) -> int:
    """Reinterpret an unsigned ``bits``-wide pattern as two's complement (consts are signed)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def name_bytes(s: str) -> bytes:
    b = s.encode()
    return uleb(len(b)) + b


# name -> (opcode bytes, immediate kinds)
#   u: unsigned LEB (indices, labels)     s32/s64: signed LEB constant
#   bt: block type (None or a value type) mem: memarg, two entries (align log2, offset)
#   tbl: br_table labels + default        z: a reserved zero byte
OPCODES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "unreachable": (b"\x00", ()),
    "nop": (b"\x01", ()),
    "block": (b"\x02", ("bt",)),
    "loop": (b"\x03", ("bt",)),
    "if": (b"\x04", ("bt",)),
    "else": (b"\x05", ()),
    "end": (b"\x0b", ()),
    "br": (b"\x0c", ("u",)),
    "br_if": (b"\x0d", ("u",)),
    "br_table": (b"\x0e", ("tbl",)),
    "return": (b"\x0f", ()),
    "call": (b"\x10", ("u",)),
    "drop": (b"\x1a", ()),
    "select": (b"\x1b", ()),
    "local.get": (b"\x20", ("u",)),
    "local.set": (b"\x21", ("u",)),
    "local.tee": (b"\x22", ("u",)),
    "global.get": (b"\x23", ("u",)),
    "global.set": (b"\x24", ("u",)),
    "i32.load": (b"\x28", ("mem",)),
    "i64.load": (b"\x29", ("mem",)),
    "i32.load8_s": (b"\x2c", ("mem",)),
    "i32.load8_u": (b"\x2d", ("mem",)),
    "i32.load16_u": (b"\x2f", ("mem",)),
    "i64.load8_s": (b"\x30", ("mem",)),
    "i64.load8_u": (b"\x31", ("mem",)),
    "i64.load32_u": (b"\x35", ("mem",)),
    "i32.store": (b"\x36", ("mem",)),
    "i64.store": (b"\x37", ("mem",)),
    "i64.store8": (b"\x3c", ("mem",)),
    "i64.store32": (b"\x3e", ("mem",)),
    "memory.size": (b"\x3f", ("z",)),
    "memory.grow": (b"\x40", ("z",)),
    "i32.const": (b"\x41", ("s32",)),
    "i64.const": (b"\x42", ("s64",)),
    "i32.eqz": (b"\x45", ()),
    "i32.eq": (b"\x46", ()),
    "i32.ne": (b"\x47", ()),
    "i32.lt_s": (b"\x48", ()),
    "i32.lt_u": (b"\x49", ()),
    "i32.gt_s": (b"\x4a", ()),
    "i32.gt_u": (b"\x4b", ()),
    "i32.le_u": (b"\x4d", ()),
    "i32.ge_s": (b"\x4e", ()),
    "i32.ge_u": (b"\x4f", ()),
    "i64.eqz": (b"\x50", ()),
    "i64.eq": (b"\x51", ()),
    "i64.ne": (b"\x52", ()),
    "i64.lt_s": (b"\x53", ()),
    "i64.lt_u": (b"\x54", ()),
    "i64.gt_s": (b"\x55", ()),
    "i64.gt_u": (b"\x56", ()),
    "i64.le_u": (b"\x58", ()),
    "i64.ge_u": (b"\x5a", ()),
    "i32.clz": (b"\x67", ()),
    "i32.add": (b"\x6a", ()),
    "i32.sub": (b"\x6b", ()),
    "i32.mul": (b"\x6c", ()),
    "i32.and": (b"\x71", ()),
    "i32.or": (b"\x72", ()),
    "i32.xor": (b"\x73", ()),
    "i32.shl": (b"\x74", ()),
    "i32.shr_u": (b"\x76", ()),
    "i64.clz": (b"\x79", ()),
    "i64.add": (b"\x7c", ()),
    "i64.sub": (b"\x7d", ()),
    "i64.mul": (b"\x7e", ()),
    "i64.div_s": (b"\x7f", ()),
    "i64.div_u": (b"\x80", ()),
    "i64.rem_s": (b"\x81", ()),
    "i64.rem_u": (b"\x82", ()),
    "i64.and": (b"\x83", ()),
    "i64.or": (b"\x84", ()),
    "i64.xor": (b"\x85", ()),
    "i64.shl": (b"\x86", ()),
    "i64.shr_s": (b"\x87", ()),
    "i64.shr_u": (b"\x88", ()),
    "i64.rotl": (b"\x89", ()),
    "i32.wrap_i64": (b"\xa7", ()),
    "i64.extend_i32_s": (b"\xac", ()),
    "i64.extend_i32_u": (b"\xad", ()),
    "memory.copy": (b"\xfc\x0a", ("z", "z")),
    "memory.fill": (b"\xfc\x0b", ("z",)),
    # wide-arithmetic proposal (enabled in the engine's config)
    "i64.add128": (b"\xfc\x13", ()),
    "i64.sub128": (b"\xfc\x14", ()),
    "i64.mul_wide_s": (b"\xfc\x15", ()),
    "i64.mul_wide_u": (b"\xfc\x16", ()),
}

IMM_WIDTH = {"z": 0, "mem": 2}
"""Instruction-tuple entries per immediate kind (memargs are written flat: align, offset)."""

BLOCK_OPENERS = frozenset({"block", "loop", "if"})


def encode_instr(ins: Instr, out: bytearray) -> None:
    name = str(ins[0])
    try:
        code, kinds = OPCODES[name]
    except KeyError:
        raise ValueError(f"encoder does not know instruction {name!r}") from None
    out += code
    imms = ins[1:]
    if len(imms) != sum(IMM_WIDTH.get(k, 1) for k in kinds):
        raise ValueError(f"wrong immediates for {ins!r}")
    it = iter(imms)
    for kind in kinds:
        if kind == "z":
            out.append(0)
            continue
        imm = next(it)
        if kind == "u":
            out += uleb(int(imm))  # type: ignore[call-overload]
        elif kind == "s32":
            out += sleb(signed(int(imm), 32))  # type: ignore[call-overload]
        elif kind == "s64":
            out += sleb(signed(int(imm), 64))  # type: ignore[call-overload]
        elif kind == "bt":
            out.append(0x40 if imm is None else int(imm))  # type: ignore[call-overload]
        elif kind == "mem":
            out += uleb(int(imm)) + uleb(int(next(it)))  # type: ignore[call-overload]
        elif kind == "tbl":
            labels, default = cast("tuple[list[int], int]", imm)
            out += uleb(len(labels))
            for label in labels:
                out += uleb(label)
            out += uleb(default)
        else:  # pragma: no cover - table typo
            raise AssertionError(kind)


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[int, ...]
    results: tuple[int, ...]


@dataclass(slots=True)
class Func:
    """A function defined in the module."""

    name: str
    type: FuncType
    locals: list[int] = field(default_factory=list)
    """Value types of the locals after the parameters."""
    body: list[Instr] = field(default_factory=list)
    """Instructions without the final ``end`` (added by the encoder)."""
    export: bool = False


@dataclass(slots=True)
class Import:
    module: str
    name: str
    type: FuncType


@dataclass(slots=True)
class DataSegment:
    offset: int
    data: bytes


@dataclass(slots=True)
class Module:
    """Everything one compiled contract needs: imported builtins, code, memory."""

    imports: list[Import] = field(default_factory=list)
    funcs: list[Func] = field(default_factory=list)
    memory_pages: int = 1
    data: list[DataSegment] = field(default_factory=list)

    def func_index(self, name: str) -> int:
        """Index in the function index space (imports first)."""
        for i, imp in enumerate(self.imports):
            if imp.name == name:
                return i
        for i, f in enumerate(self.funcs):
            if f.name == name:
                return len(self.imports) + i
        raise KeyError(name)

    def types(self) -> list[FuncType]:
        seen: list[FuncType] = []
        for t in [i.type for i in self.imports] + [f.type for f in self.funcs]:
            if t not in seen:
                seen.append(t)
        return seen


def _section(sid: int, payload: bytes) -> bytes:
    return bytes([sid]) + uleb(len(payload)) + payload


def _vec(items: Sequence[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def _functype(t: FuncType) -> bytes:
    return b"\x60" + _vec([bytes([p]) for p in t.params]) + _vec([bytes([r]) for r in t.results])


def _locals(types: list[int]) -> bytes:
    # Run-length groups of equal types, as the format wants.
    groups: list[tuple[int, int]] = []
    for t in types:
        if groups and groups[-1][1] == t:
            groups[-1] = (groups[-1][0] + 1, t)
        else:
            groups.append((1, t))
    return _vec([uleb(n) + bytes([t]) for n, t in groups])


def encode_body(func: Func, memo: dict[Instr, bytes] | None = None) -> bytes:
    """The code entry of ``func``: size, locals, instructions, ``end``.

    Generated code repeats a small set of instructions (``local.get 7``,
    ``i64.store 3 32``, ...) many thousands of times, so each distinct
    instruction is encoded once and its bytes looked up in ``memo`` after
    that; pass one dict for every function of a module.
    """
    if memo is None:
        memo = {}
    parts = [_locals(func.locals)]
    append = parts.append
    lookup = memo.get
    for ins in func.body:
        try:
            code = lookup(ins)
        except TypeError:  # unhashable immediates (br_table's label list): not memoised
            scratch = bytearray()
            encode_instr(ins, scratch)
            append(bytes(scratch))
            continue
        if code is None:
            scratch = bytearray()
            encode_instr(ins, scratch)
            code = memo[ins] = bytes(scratch)
        append(code)
    append(b"\x0b")
    body = b"".join(parts)
    limits.check_body(len(body))
    return uleb(len(body)) + body


def encode_module(module: Module) -> bytes:
    """The binary format of ``module`` (memory exported as ``memory``)."""
    types = module.types()
    tindex = {t: i for i, t in enumerate(types)}
    out = bytearray(b"\x00asm\x01\x00\x00\x00")
    out += _section(1, _vec([_functype(t) for t in types]))
    if module.imports:
        out += _section(
            2,
            _vec(
                [
                    name_bytes(i.module) + name_bytes(i.name) + b"\x00" + uleb(tindex[i.type])
                    for i in module.imports
                ]
            ),
        )
    out += _section(3, _vec([uleb(tindex[f.type]) for f in module.funcs]))
    out += _section(5, _vec([b"\x00" + uleb(module.memory_pages)]))
    exports = [name_bytes("memory") + b"\x02\x00"]
    base = len(module.imports)
    for i, f in enumerate(module.funcs):
        if f.export:
            exports.append(name_bytes(f.name) + b"\x00" + uleb(base + i))
    out += _section(7, _vec(exports))
    memo: dict[Instr, bytes] = {}
    out += _section(10, _vec([encode_body(f, memo) for f in module.funcs]))
    if module.data:
        segs = [
            b"\x00\x41" + sleb(seg.offset) + b"\x0b" + uleb(len(seg.data)) + seg.data
            for seg in module.data
        ]
        out += _section(11, _vec(segs))
    return bytes(out)
