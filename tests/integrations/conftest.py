"""Integration tests need the tools; each module skips when its tool is missing."""

import pytest


@pytest.fixture(autouse=True)
def _blocking_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check compiled frames: every code is compiled before it runs.

    (The integrations' own default, the tiered policy, is tested on its own.)
    """
    monkeypatch.setenv("EVMKILN_RUNTIME", "blocking")
    try:
        from evmkiln.integrations.eth_tester import SHARED_VM_CLASSES
    except ImportError:  # eth-tester is not installed
        return
    SHARED_VM_CLASSES.clear()  # each test counts its own frames
