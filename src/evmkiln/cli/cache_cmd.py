"""``evmkiln cache``: show, verify and clear the persistent code cache.

The cache (:mod:`evmkiln.context.disk_cache`) fills itself; these commands
are for looking at it: what it holds per backend and fork (``show``),
whether every entry still loads (``verify``, non-zero exit if one is
corrupt), and emptying it (``clear``).  ``--dir`` names a directory;
otherwise ``EVMKILN_CACHE_DIR`` or the per-user default, as for a VM.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evmkiln.cli.json_output import blocking_file

cache_app = typer.Typer(
    name="cache",
    help="The persistent code cache: show what it holds, verify it loads, clear it.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Cache directory (default: EVMKILN_CACHE_DIR, else the per-user cache directory).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

_MB = 1 << 20


def _root(directory: Path | None) -> Path:
    """The cache directory, or a usage error if a file stands where it is or would be.

    Such a directory can never hold a cache: a VM turns its cache off, and
    reporting it as empty (or "does not exist yet") would hide why.
    """
    from evmkiln.context.disk_cache import CACHE_DIR_ENV, default_directory

    root = directory if directory is not None else default_directory()
    blocker = root if root.exists() and not root.is_dir() else blocking_file(root)
    if blocker is not None:
        where = "" if blocker == root else f"{root} cannot be created: "
        raise typer.BadParameter(
            f"{where}{blocker} is not a directory",
            param_hint="--dir" if directory is not None else CACHE_DIR_ENV,
        )
    return root


@cache_app.command("show")
def show(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """Where the cache is, how many entries and bytes it holds, per backend and fork."""
    from evmkiln.context.disk_cache import default_max_bytes, enabled_by_environment, scan

    try:
        max_bytes = default_max_bytes()
        enabled = enabled_by_environment()
    except ValueError as exc:  # a malformed EVMKILN_CACHE_MAX_BYTES or EVMKILN_CACHE
        raise typer.BadParameter(str(exc)) from None
    root = _root(directory)
    entries = scan(root)
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in entries:
        group = groups[(entry.backend, entry.fork)]
        group[0] += 1
        group[1] += entry.size
        keys[(entry.backend, entry.fork)].add(entry.key)
    total = sum(e.size for e in entries)
    summary: dict[str, Any] = {
        "directory": str(root),
        "enabled": enabled,
        "max_bytes": max_bytes,
        "entries": len(entries),
        "bytes": total,
        "groups": [
            {
                "backend": backend,
                "fork": fork,
                "entries": count,
                "bytes": size,
                "keys": len(keys[(backend, fork)]),
            }
            for (backend, fork), (count, size, _) in sorted(groups.items())
        ],
    }
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    console = Console(highlight=False, soft_wrap=True)
    state = "on" if summary["enabled"] else "off (EVMKILN_CACHE)"
    console.print(f"directory  {root}{'' if root.is_dir() else ' (does not exist yet)'}")
    console.print(f"cache      {state}, capped at {summary['max_bytes'] / _MB:.0f} MB")
    console.print(f"entries    {len(entries)}, {total / _MB:.2f} MB")
    if summary["groups"]:
        table = Table()
        for column in ("backend", "fork", "entries", "MB", "keys"):
            table.add_column(column, justify="left" if column in ("backend", "fork") else "right")
        for group in summary["groups"]:
            table.add_row(
                group["backend"],
                group["fork"],
                str(group["entries"]),
                f"{group['bytes'] / _MB:.2f}",
                str(group["keys"]),
            )
        console.print(table)
        console.print("keys: builds (compiler, options, machine) the entries were made by")


@cache_app.command("verify")
def verify(
    directory: DirOption = None,
    as_json: JsonOption = False,
    delete_bad: Annotated[
        bool, typer.Option("--delete-bad", help="Remove the entries that fail to load.")
    ] = False,
) -> None:
    """Load every entry as a VM would; list the corrupt ones (exit 1 if there are any).

    Entries built by another evmkiln, compiler or machine are "stale": never
    looked up by this one, not an error.
    """
    from evmkiln.context.disk_cache import remove_entry, scan, verify_entry

    root = _root(directory)
    checks = [verify_entry(entry) for entry in sorted(scan(root), key=lambda e: str(e.path))]
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "stale", "bad")}
    bad = [c for c in checks if c.status == "bad"]
    if delete_bad:
        for check in bad:
            remove_entry(check.entry.path)
    if as_json:
        report = {
            "directory": str(root),
            **counts,
            "bad_entries": [{"path": str(c.entry.path), "error": c.message} for c in bad],
            "deleted": len(bad) if delete_bad else 0,
        }
        print(json.dumps(report, indent=1))
    else:
        console = Console(highlight=False, soft_wrap=True)
        console.print(
            f"{root}: {counts['ok']} ok, {counts['stale']} stale (another build or machine), "
            f"{counts['bad']} bad"
        )
        for check in bad:
            console.print(f"[red]bad[/red] {check.message}", markup=True)
        if bad and delete_bad:
            console.print(f"deleted {len(bad)} bad entries")
    if bad:
        raise typer.Exit(1)


@cache_app.command("clear")
def clear(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """Remove every entry (only the cache's own files are touched)."""
    from evmkiln.context.disk_cache import clear as clear_cache

    root = _root(directory)
    removed, size = clear_cache(root)
    if as_json:
        print(json.dumps({"directory": str(root), "removed": removed, "bytes": size}))
    else:
        Console(highlight=False).print(f"{root}: removed {removed} entries, {size / _MB:.2f} MB")
