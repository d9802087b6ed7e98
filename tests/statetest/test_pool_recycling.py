"""Workers are replaced after a number of cases, and, under an address-space limit,
once they have mapped a share of it."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any

import pytest

from evmkiln import process_memory
from evmkiln.statetest import pool as pool_module
from evmkiln.statetest.pool import ADDRESS_SPACE_SHARE, CasePool


def _slot(cases: int) -> Any:
    return SimpleNamespace(cases=cases, process=SimpleNamespace(pid=12345))


def test_worn_out_after_its_cases() -> None:
    pool = CasePool("ir", jobs=1, timeout=10, max_cases_per_worker=3)
    pool._recycle_above = None
    assert not pool._worn_out(_slot(2))
    assert pool._worn_out(_slot(3))


def test_worn_out_by_address_space_under_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = CasePool("ir", jobs=1, timeout=10, max_cases_per_worker=0)
    pool._recycle_above = 1 << 30
    mapped = {12345: (1 << 30) - 1}
    monkeypatch.setattr(pool_module, "process_address_space_bytes", lambda pid: mapped[pid])
    assert not pool._worn_out(_slot(1))
    mapped[12345] = (1 << 30) + 1
    assert pool._worn_out(_slot(1))


def test_no_address_space_rule_without_a_limit() -> None:
    if process_memory.address_space_limit() is not None:
        pytest.skip("this process runs under an address-space limit")
    assert CasePool("ir", jobs=1, timeout=10)._recycle_above is None


def test_the_rule_follows_the_processes_limit() -> None:
    """In a process under ``ulimit -v``: the limit is read, and a quarter of it is the line."""
    limit = 6 << 30
    script = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        from evmkiln.process_memory import address_space_limit, process_address_space_bytes
        from evmkiln.statetest.pool import CasePool
        print(address_space_limit(), CasePool("ir", jobs=1, timeout=10)._recycle_above,
              process_address_space_bytes() > 0)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == [str(limit), str(int(limit * ADDRESS_SPACE_SHARE)), "True"]


def test_address_space_of_this_process_is_read() -> None:
    mapped = process_memory.process_address_space_bytes()
    assert mapped >= process_memory.process_rss_bytes() > 0
    assert process_memory.process_address_space_bytes(pid=2**22 + 12345) == 0  # no such process
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    expected = None if soft == resource.RLIM_INFINITY else soft
    assert process_memory.address_space_limit() == expected
