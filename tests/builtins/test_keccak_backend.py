"""The host's Keccak and the choice of eth-hash's backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from eth_hash.backends import pycryptodome
from hypothesis import given
from hypothesis import strategies as st

from evmkiln.builtins import keccak_backend
from evmkiln.builtins.keccak_backend import (
    ENVIRONMENT_VARIABLE,
    PYSHA3,
    keccak256,
    prefer_pysha3,
    pysha3_available,
)


@given(st.binary(max_size=600))
def test_host_keccak_is_keccak256(data: bytes) -> None:
    assert keccak256(data) == pycryptodome.backend.keccak256(data)
    assert keccak256(bytearray(data)) == pycryptodome.backend.keccak256(data)


def test_known_digest() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_pysha3_is_installed_with_evmkiln() -> None:
    # A dependency of evmkiln-builtins on CPython: without it py-evm hashes 5x slower.
    assert pysha3_available()


def test_prefer_pysha3_names_it_when_nothing_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert prefer_pysha3() == PYSHA3
    assert os.environ[ENVIRONMENT_VARIABLE] == PYSHA3


def test_prefer_pysha3_keeps_a_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "pycryptodome")
    assert prefer_pysha3() == "pycryptodome"
    assert os.environ[ENVIRONMENT_VARIABLE] == "pycryptodome"


def test_prefer_pysha3_without_pysha3_names_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(keccak_backend, "pysha3_available", lambda: False)
    assert prefer_pysha3() is None
    assert ENVIRONMENT_VARIABLE not in os.environ


def test_the_command_makes_py_evm_hash_with_pysha3() -> None:
    """In a fresh process: importing the command (which imports modules that hash) leaves
    eth-hash on pysha3, and a backend named by the user stays."""
    script = (
        "import evmkiln.cli.main\n"
        "from eth_hash.auto import keccak\n"
        "keccak(b'')\n"
        "print(type(keccak.hasher.__self__).__name__)\n"
    )
    for named, expected in ((None, "PySha3Backend"), ("pycryptodome", "CryptodomeBackend")):
        env = {k: v for k, v in os.environ.items() if k != ENVIRONMENT_VARIABLE}
        if named is not None:
            env[ENVIRONMENT_VARIABLE] = named
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


def test_prefer_pysha3_for_this_process_only_leaves_the_environment() -> None:
    """In a fresh process: eth-hash chooses pysha3, and the variable is gone again."""
    script = (
        "import os\n"
        "from evmkiln.builtins.keccak_backend import prefer_pysha3\n"
        "from eth_hash.auto import keccak\n"
        "print(prefer_pysha3(inherited=False), os.environ.get('ETH_HASH_BACKEND'))\n"
        "print(type(keccak.hasher.__self__).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != ENVIRONMENT_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [PYSHA3, "None", "PySha3Backend"]


def test_prefer_pysha3_for_this_process_survives_eth_hash_refusing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """eth-hash failing to load the backend leaves the choice to it, and the environment."""
    import eth_hash.auto

    def refusing(data: bytes) -> bytes:
        raise ImportError("backend not loadable")

    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(eth_hash.auto, "keccak", refusing)
    assert prefer_pysha3(inherited=False) is None
    assert ENVIRONMENT_VARIABLE not in os.environ
