"""Attributes held on evmkiln's own classes: the objects the classes inherit, unchanged."""

from __future__ import annotations

from eth.vm.computation import BaseComputation

from evmkiln.context import make_vm_class
from evmkiln.context.hot_attributes import hoist
from evmkiln.context.vm import HOT_COMPUTATION_ATTRIBUTES


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


def test_a_made_computation_class_holds_py_evms_own_attributes() -> None:
    vm_class = make_vm_class("llvm", fork="cancun")
    cls = vm_class.get_state_class().computation_class
    for name in HOT_COMPUTATION_ATTRIBUTES:
        assert name in vars(cls), name
        assert vars(cls)[name] is vars(BaseComputation)[name], name
    assert cls.get_precompiles() is cls._precompiles
