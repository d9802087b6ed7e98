"""The stable text form of the IR.

The format is line oriented and round-trips through :mod:`parser`::

    function evm_1a2b3c4d {
        jumptable 0x0a -> block3, 0x40 -> block9
    block0:
        gas.charge 21
        v0 = const.i256 0x80
        v1 = call calldataload(v0)
        brif v2, block1(v0), block2()
    block1(v3: i256):
        ...
    }
"""

from __future__ import annotations

from evmkiln.codegen.ir.function import Block, BlockCall, Function, Inst


def _imm(x: int | str) -> str:
    if isinstance(x, str):
        return x
    return hex(x) if abs(x) > 9 else str(x)


def _target(t: BlockCall) -> str:
    return f"{t.block.name}({', '.join(str(a) for a in t.args)})"


def format_inst(inst: Inst) -> str:
    lhs = ", ".join(str(r) for r in inst.results)
    prefix = f"{lhs} = " if lhs else ""
    if inst.opcode == "call":
        args = ", ".join(str(a) for a in inst.args)
        return f"{prefix}call {inst.imms[0]}({args})"
    parts = [str(a) for a in inst.args] + [_imm(i) for i in inst.imms]
    parts += [_target(t) for t in inst.targets]
    return f"{prefix}{inst.opcode}{' ' + ', '.join(parts) if parts else ''}"


def format_block_header(block: Block) -> str:
    if not block.params:
        return f"{block.name}:"
    params = ", ".join(f"{p}: {p.type}" for p in block.params)
    return f"{block.name}({params}):"


def format_function(function: Function) -> str:
    lines = [f"function {function.name} {{"]
    if function.jump_table:
        entries = ", ".join(
            f"{pc:#x} -> {blk.name}" for pc, blk in sorted(function.jump_table.items())
        )
        lines.append(f"    jumptable {entries}")
    for block in function.blocks:
        lines.append(format_block_header(block))
        for inst in block.insts:
            lines.append(f"    {format_inst(inst)}")
        if block.term is not None:
            lines.append(f"    {format_inst(block.term)}")
    lines.append("}")
    return "\n".join(lines) + "\n"
