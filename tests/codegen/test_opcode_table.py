"""The declared opcode table must agree with the interpreter we must match."""

from __future__ import annotations

from eth.vm.forks.cancun.opcodes import CANCUN_OPCODES

from evmkiln.builtins.table import BUILTINS
from evmkiln.codegen.evm.opcodes import OPCODES, Kind


def _pyevm_gas(op: object) -> int:
    gas = getattr(op, "gas_cost", None)
    if gas is None:
        gas = op.__wrapped__.gas_cost  # type: ignore[attr-defined]
    return int(gas)


def test_same_opcodes_defined_as_pyevm() -> None:
    assert set(OPCODES) - {0xFE} == set(CANCUN_OPCODES) - {0xFE}


def test_static_gas_matches_pyevm() -> None:
    mismatched = {
        info.name: (info.static_gas, _pyevm_gas(CANCUN_OPCODES[code]))
        for code, info in OPCODES.items()
        if code in CANCUN_OPCODES
        and code != 0xFE
        and info.static_gas != _pyevm_gas(CANCUN_OPCODES[code])
    }
    assert mismatched == {}


def test_builtin_opcodes_have_matching_signatures() -> None:
    for info in OPCODES.values():
        if info.kind is Kind.BUILTIN:
            sig = BUILTINS[info.ir_op]
            assert sig.opcode == info.code, info.name
            assert len(sig.params) == info.pops, info.name
            assert len(sig.results) == info.pushes, info.name
