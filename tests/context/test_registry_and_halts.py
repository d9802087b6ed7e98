"""Backend lookup by name and the halt-to-exception map."""

from __future__ import annotations

import pytest
from eth.exceptions import OutOfGas, Revert, VMError, WriteProtection

from evmkiln.builtins.halts import ExceptionalHalt, HaltKind
from evmkiln.builtins.host import Host
from evmkiln.codegen.backend import Backend
from evmkiln.context import PyEvmHost, available_backends, get_backend
from evmkiln.context.halt_map import PYEVM_ERROR_FOR_HALT, pyevm_error
from evmkiln.context.registry import UnknownBackendError


def test_reference_backend_is_registered() -> None:
    assert "ir" in available_backends()
    backend = get_backend("ir")
    assert isinstance(backend, Backend)
    assert backend.name == "ir"


def test_unknown_backend_lists_what_is_available() -> None:
    with pytest.raises(UnknownBackendError) as info:
        get_backend("no-such-backend")
    message = str(info.value)
    assert "no-such-backend" in message and "ir" in message


def test_every_halt_kind_maps_to_a_gas_burning_vm_error() -> None:
    assert set(PYEVM_ERROR_FOR_HALT) == set(HaltKind)
    for error_class in PYEVM_ERROR_FOR_HALT.values():
        assert issubclass(error_class, VMError)
        assert error_class is not Revert
        assert error_class.burns_gas and error_class.erases_return_data


def test_specific_mappings() -> None:
    assert isinstance(pyevm_error(ExceptionalHalt(HaltKind.OUT_OF_GAS)), OutOfGas)
    error = pyevm_error(ExceptionalHalt(HaltKind.WRITE_PROTECTION, "SSTORE"))
    # py-evm's one wording for every write in a static frame (test_halt_messages.py).
    assert isinstance(error, WriteProtection)
    assert str(error) == "Cannot modify state while inside of a STATICCALL context"
    assert PYEVM_ERROR_FOR_HALT[HaltKind.CODE_SIZE_LIMIT] is OutOfGas


def test_pyevm_host_implements_every_host_method() -> None:
    wanted = {name for name in vars(Host) if not name.startswith("_")}
    assert wanted, "the protocol declares methods"
    missing = {name for name in wanted if not callable(getattr(PyEvmHost, name, None))}
    assert missing == set()
