"""Attributes held on evmkiln's own classes: the objects the classes inherit, unchanged."""

from __future__ import annotations

from eth.vm.computation import BaseComputation

from evmkiln.context import hot_attributes, make_vm_class
from evmkiln.context.hot_attributes import hoist


class _Base:
    inherited = "from the base"

    @property
    def shown(self) -> str:
        return "base property"

    @classmethod
    def made_by(cls) -> type:
        return cls


class _Middle(_Base):
    @property
    def shown(self) -> str:
        return "middle property"


class _Made(_Middle):
    own = "own"


def test_hoist_copies_what_the_class_inherits_from_its_nearest_base() -> None:
    hoist(_Made, ("inherited", "shown", "made_by", "own", "absent"))
    assert vars(_Made)["inherited"] == "from the base"
    # The nearest definition, as raw descriptors: the property of _Middle, not _Base's.
    assert vars(_Made)["shown"] is vars(_Middle)["shown"]
    assert _Made().shown == "middle property"
    assert vars(_Made)["made_by"] is vars(_Base)["made_by"]
    assert _Made.made_by() is _Made  # a class method still binds to the class read from
    assert vars(_Made)["own"] == "own"
    assert "absent" not in vars(_Made)
    assert "shown" not in vars(_Base) or vars(_Base)["shown"] is not vars(_Middle)["shown"]


def _inherited(cls: type, name: str) -> object:
    """What a subclass of ``cls``'s bases (not ``cls`` itself) would find for ``name``."""
    return next(vars(k)[name] for k in cls.__mro__[1:] if name in vars(k))


def test_made_classes_hold_py_evms_own_attributes() -> None:
    vm_class = make_vm_class("llvm", fork="cancun")
    state_class = vm_class.get_state_class()
    computation_class = state_class.computation_class
    legacy = vm_class.get_transaction_builder().legacy_signed
    for cls, names in (
        (computation_class, hot_attributes.COMPUTATION),
        (state_class, hot_attributes.STATE),
        (vm_class, hot_attributes.VM),
        (legacy, hot_attributes.LEGACY_TRANSACTION),
    ):
        for name in names:
            assert name in vars(cls), (cls, name)
            assert vars(cls)[name] is _inherited(cls, name), (cls, name)
    assert vars(computation_class)["is_error"] is vars(BaseComputation)["is_error"]
    assert computation_class.get_precompiles() is computation_class._precompiles
