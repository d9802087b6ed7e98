"""The text form of a :class:`~.encoding.Module`, printed from the same instruction stream.

wasmtime can compile text but cannot print binary as text, so the backend
keeps one representation (instruction tuples) and two renderings: the binary
encoder and this printer.  Indices stay numeric (no ``$names``) so that
``wat2wasm(to_wat(m)) == encode_module(m)`` holds byte for byte -- the test
suite checks it, which keeps both renderings honest.
"""

from __future__ import annotations

from typing import cast

from evmkiln.backend_wasm.encoding import (
    OPCODES,
    VALTYPE_NAMES,
    Func,
    FuncType,
    Instr,
    Module,
    signed,
)


def _functype(t: FuncType) -> str:
    parts = []
    if t.params:
        parts.append("(param " + " ".join(VALTYPE_NAMES[p] for p in t.params) + ")")
    if t.results:
        parts.append("(result " + " ".join(VALTYPE_NAMES[r] for r in t.results) + ")")
    return " ".join(parts)


def format_instr(ins: Instr) -> str:
    name = str(ins[0])
    _, kinds = OPCODES[name]
    parts = [name]
    it = iter(ins[1:])
    for kind in kinds:
        if kind == "z":
            continue
        imm = next(it)
        if kind == "u":
            parts.append(str(imm))
        elif kind == "s32":
            parts.append(str(signed(int(imm), 32)))  # type: ignore[call-overload]
        elif kind == "s64":
            parts.append(str(signed(int(imm), 64)))  # type: ignore[call-overload]
        elif kind == "bt":
            if imm is not None:
                parts.append(f"(result {VALTYPE_NAMES[int(imm)]})")  # type: ignore[call-overload]
        elif kind == "mem":
            align, offset = int(imm), int(next(it))  # type: ignore[call-overload]
            if offset:
                parts.append(f"offset={offset}")
            parts.append(f"align={1 << align}")
        elif kind == "tbl":
            labels, default = cast("tuple[list[int], int]", imm)
            parts.extend(str(label) for label in labels)
            parts.append(str(default))
    return " ".join(parts)


def _func(f: Func, index: int, types: list[FuncType]) -> list[str]:
    lines = [f"  (func (;{index};) (type {types.index(f.type)}) {_functype(f.type)}".rstrip()]
    if f.locals:
        lines.append("    (local " + " ".join(VALTYPE_NAMES[t] for t in f.locals) + ")")
    depth = 2
    for ins in f.body:
        name = str(ins[0])
        if name in ("end", "else"):
            depth -= 1
        lines.append("  " * depth + format_instr(ins))
        if name in ("block", "loop", "if", "else"):
            depth += 1
    lines[-1] += ")"
    return lines


def to_wat(module: Module, *, comment: str = "") -> str:
    """Render ``module`` as WebAssembly text."""
    types = module.types()
    lines: list[str] = []
    if comment:
        lines.extend(f";; {line}" for line in comment.splitlines())
    lines.append("(module")
    for i, t in enumerate(types):
        lines.append(f"  (type (;{i};) (func {_functype(t)}))".replace("(func )", "(func)"))
    for imp in module.imports:
        lines.append(
            f'  (import "{imp.module}" "{imp.name}" (func (type {types.index(imp.type)})))'
        )
    base = len(module.imports)
    for i, f in enumerate(module.funcs):
        lines.extend(_func(f, base + i, types))
    lines.append(f"  (memory (;0;) {module.memory_pages})")
    lines.append('  (export "memory" (memory 0))')
    for i, f in enumerate(module.funcs):
        if f.export:
            lines.append(f'  (export "{f.name}" (func {base + i}))')
    for seg in module.data:
        escaped = "".join(f"\\{b:02x}" for b in seg.data)
        lines.append(f'  (data (i32.const {seg.offset}) "{escaped}")')
    lines.append(")")
    return "\n".join(lines) + "\n"
