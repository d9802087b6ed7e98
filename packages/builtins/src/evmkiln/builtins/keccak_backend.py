"""Keccak-256 for the host, and the choice of ``eth-hash``'s backend.

py-evm hashes through ``eth-hash`` (``from eth_hash.auto import keccak``):
every trie node it writes, every storage key and address it looks up, every
code hash.  ``eth-hash`` picks its backend once, at the first hash: the one
named by the ``ETH_HASH_BACKEND`` environment variable, else the first
importable of pycryptodome and pysha3.  pycryptodome's Keccak is C behind a
Python object whose set-up dominates a short hash (about 5 µs); pysha3's
(``safe-pysha3``) is a C extension type (about 0.7 µs).  Both compute the
same function, so the choice changes speed only.

:func:`prefer_pysha3` names pysha3 in ``ETH_HASH_BACKEND`` when it is
importable and nobody chose: the ``evmkiln`` command does so at start, the
eth-tester integration when imported (for its own process only), and a
program that embeds evmkiln may call it before its first hash.  It never
overrides a user's choice, and it has no effect once ``eth-hash`` has chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable

ENVIRONMENT_VARIABLE = "ETH_HASH_BACKEND"
PYSHA3 = "pysha3"

__all__ = ["ENVIRONMENT_VARIABLE", "PYSHA3", "keccak256", "prefer_pysha3", "pysha3_available"]


def pysha3_available() -> bool:
    """Whether pysha3's C Keccak (``safe-pysha3``) is importable."""
    try:
        import _pysha3  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def prefer_pysha3(*, inherited: bool = True) -> str | None:
    """Have ``eth-hash`` use pysha3 unless a backend is named already; return the name in force.

    ``None``: nothing is named (pysha3 is not installed), so ``eth-hash``
    picks by itself.  ``inherited`` (the command's way): the name stays in
    the environment, for its worker processes too.  ``inherited=False`` (a
    library inside another program, whose environment is not evmkiln's to
    change): the name is set only while ``eth-hash`` hashes once to make its
    choice, then removed, so the program and the processes it starts see
    the environment they had.
    """
    chosen = os.environ.get(ENVIRONMENT_VARIABLE)
    if chosen:
        return chosen
    if not pysha3_available():
        return None
    os.environ[ENVIRONMENT_VARIABLE] = PYSHA3
    if inherited:
        return PYSHA3
    try:
        from eth_hash.auto import keccak

        keccak(b"")  # eth-hash chooses at its first hash
    except Exception:  # eth-hash could not load it: it chooses by itself at the next hash
        return None
    finally:
        if os.environ.get(ENVIRONMENT_VARIABLE) == PYSHA3:
            del os.environ[ENVIRONMENT_VARIABLE]
    return PYSHA3


def _pick_keccak() -> Callable[[bytes | bytearray], bytes]:
    try:
        from _pysha3 import keccak_256
    except ImportError:
        from eth_hash.auto import keccak

        return keccak

    def pysha3_keccak(data: bytes | bytearray) -> bytes:
        digest: bytes = keccak_256(data).digest()
        return digest

    return pysha3_keccak


keccak256 = _pick_keccak()
"""Keccak-256 of bytes for evmkiln's own host code: pysha3's when installed, else
``eth-hash``'s, whatever ``eth-hash`` itself uses."""
