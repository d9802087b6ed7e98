"""titanoboa with evmkiln enabled: the same results as plain titanoboa.

Importing titanoboa patches py-evm's opcode tables in place (its tracers), for
every VM in the process; the module fixture snapshots the tables before the
import and restores them after, so the rest of the suite sees stock py-evm.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from evmkiln.forks import SUPPORTED_FORKS, fork_spec

if importlib.util.find_spec("boa") is None:
    pytest.skip("titanoboa is not installed", allow_module_level=True)

SOURCE = """
counter: public(uint256)
owners: public(HashMap[address, uint256])

@external
def bump(by: uint256) -> uint256:
    assert by < 100, "too much"
    self.counter += by
    self.owners[msg.sender] = self.counter
    return self.counter

@external
def fail():
    raise "always"
"""


@pytest.fixture(scope="module")
def boa() -> Iterator[Any]:
    tables = [fork_spec(name).computation_class.opcodes for name in SUPPORTED_FORKS]
    saved = [dict(table) for table in tables]
    import boa

    try:
        yield boa
    finally:
        for table, copy in zip(tables, saved, strict=True):
            table.clear()
            table.update(copy)


def session(boa: Any) -> dict[str, Any]:
    contract = boa.loads(SOURCE)
    results = [contract.bump(3), contract.bump(4)]
    with boa.reverts("too much"):
        contract.bump(100)
    with boa.reverts("always"):
        contract.fail()
    return {
        "results": results,
        "counter": contract.counter(),
        "owner": contract.owners(boa.env.eoa),
    }


def test_same_as_plain_boa(boa: Any) -> None:
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        plain = session(boa)
    with boa.swap_env(boa.Env()):
        vm_class = kiln_boa.enable("llvm")
        kiln = session(boa)
        stats = vm_class.stats  # type: ignore[attr-defined]
    assert kiln == plain == {"results": [3, 7], "counter": 7, "owner": 7}
    assert stats.frames_run_compiled > 0
    # The two failing calls ran compiled, then again on the interpreter for boa's trace.
    assert stats.interpreted_for.get(kiln_boa.REPLAY_REASON, 0) >= 2


def test_state_survives_enable_and_disable(boa: Any) -> None:
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        contract = boa.loads(SOURCE)
        contract.bump(5)
        vm_class = kiln_boa.enable("ir")
        assert contract.bump(1) == 6
        assert vm_class.stats.frames_run_compiled > 0  # type: ignore[attr-defined]
        kiln_boa.disable()
        assert contract.bump(1) == 7


def test_no_gas_metering(boa: Any) -> None:
    """titanoboa's NoGasMeter keeps no gas count: compiled frames run with the message's gas."""
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        vm_class = kiln_boa.enable("ir")
        boa.env.disable_gas_metering()
        contract = boa.loads(SOURCE)
        assert contract.bump(2) == 2
        assert vm_class.stats.frames_run_compiled > 0  # type: ignore[attr-defined]


def test_patch_opcode_sends_frames_to_the_interpreter(boa: Any) -> None:
    from boa.vm import py_evm

    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        vm_class = kiln_boa.enable("ir")
        contract = boa.loads(SOURCE)
        original = py_evm._opcode_overrides.copy()
        seen: list[int] = []
        callvalue = boa.env.evm.vm.state.computation_class.opcodes[0x34]

        def traced(computation: Any) -> None:
            seen.append(1)
            callvalue(computation)

        py_evm.patch_opcode(0x34, traced)
        try:
            contract.bump(1)
        finally:
            py_evm._opcode_overrides.clear()
            py_evm._opcode_overrides.update(original)
        assert seen
        assert vm_class.stats.interpreted_for.get("titanoboa patch_opcode", 0) > 0  # type: ignore[attr-defined]


UNREACHABLE = """
@external
def boom(x: uint256):
    if x == 1:
        raise UNREACHABLE
    assert x != 2, UNREACHABLE
"""


def owners_dump(boa: Any) -> Any:
    contract = boa.loads(SOURCE)
    contract.bump(3)
    return contract._storage.owners.get()


def test_storage_dumps_name_hash_map_keys_compiled_code_wrote(boa: Any) -> None:
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        plain = owners_dump(boa)
    with boa.swap_env(boa.Env()):
        vm_class: Any = kiln_boa.enable("llvm", runtime=None)  # compile every code
        kiln = owners_dump(boa)
        assert vm_class.stats.frames_run_compiled > 0 and not vm_class.stats.frames_interpreted
    assert kiln == plain and len(plain) == 1
    with boa.swap_env(boa.Env()):
        kiln_boa.enable("llvm", runtime=None, trace_preimages=False)  # native hashing
        assert owners_dump(boa) != plain  # the key is not named: what the option trades


def test_a_failed_call_is_replayed_once(boa: Any) -> None:
    """titanoboa's own replay (the whole call, interpreted) makes evmkiln's unnecessary."""
    from evmkiln.context.vm import REPLAY_REASON as FRAME_REPLAY
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        vm_class: Any = kiln_boa.enable("llvm", runtime=None)
        contract = boa.loads(UNREACHABLE)
        with boa.reverts():
            contract.boom(1)  # INVALID, one of two: compiled code cannot say which
        replays = vm_class.stats.interpreted_for
    assert replays.get(kiln_boa.REPLAY_REASON, 0) >= 1 and FRAME_REPLAY not in replays


def test_coverage_sends_frames_to_the_interpreter(boa: Any) -> None:
    """titanoboa's coverage reads the pcs each computation's code stream recorded:
    compiled frames record none, so while it is on every frame is interpreted."""
    from evmkiln.integrations import boa as kiln_boa

    with boa.swap_env(boa.Env()):
        vm_class: Any = kiln_boa.enable("llvm", runtime=None)
        contract = boa.loads(SOURCE)
        env = boa.env
        traced: list[int] = []
        trace = env._trace_computation

        def record(computation: Any, contract: Any = None) -> None:
            traced.append(len(computation.code._trace))
            trace(computation, contract)

        env._trace_computation = record
        env._coverage_enabled = True  # what titanoboa 0.2's coverage plugin sets (on Env)
        try:
            assert contract.bump(3) == 3
        finally:
            del env._coverage_enabled, env._trace_computation
        assert traced and traced[0] > 0
        assert vm_class.stats.interpreted_for.get("titanoboa coverage", 0) > 0
