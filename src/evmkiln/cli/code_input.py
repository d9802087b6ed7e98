"""Reading bytecode given on the command line: hex text or a file of hex or raw bytes."""

from __future__ import annotations

from pathlib import Path

import typer


def read_code(source: str) -> bytes:
    """Bytecode from ``0x…``/hex text, or from a file holding hex text or raw bytes."""
    path = Path(source)
    if _is_file(path):
        raw = path.read_bytes()
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return raw
        return _parse_hex(text, origin=str(path))
    return _parse_hex(source.strip(), origin="argument")


def _is_file(path: Path) -> bool:
    """``path.is_file()``, false for text no file system accepts as a name (long hex)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _parse_hex(text: str, origin: str) -> bytes:
    body = text[2:] if text.lower().startswith("0x") else text
    body = "".join(body.split())
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise typer.BadParameter(
            f"{origin} is neither a file nor hex bytecode", param_hint="CODE"
        ) from None
