"""A new block's header made in one pass instead of once per fork since London.

py-evm makes the header of a new block (at every block mined, and at each
transaction eth-tester sends) through a chain of makers, one per fork: each
builds the previous fork's header, reads it back as a dict and builds its own
from it with its new fields.  From Cancun that is seven headers (London,
Arrow Glacier, Gray Glacier, Paris, Shanghai, Cancun, Prague), each through
pyrlp's constructor, which checks its arguments at length: more than running
a small transaction's message.

:func:`header_from_parent` computes the same fields the same way -- py-evm's
own gas limit, timestamp, parent fields and base fee functions, Paris's
constants, each fork's defaults and excess blob gas -- and sets them once, in
field order, on the sharing header class the VM's new headers have
(:mod:`evmkiln.context.block_copies`).  It applies only where the VM's maker
is py-evm's Cancun or Prague one, or evmkiln's Osaka one, and the call is
the common one: a parent of the same fork (not a fork's first block), and
none of the parameters py-evm validates against the fork's rules (a
difficulty, a nonce, a base fee) or does not know, nor a ``None``.  Anything else is made by
py-evm's chain, with its result or error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth._utils.headers import (
    compute_gas_limit,
    fill_header_params_from_parent,
    new_timestamp_from_parent,
)
from eth.constants import (
    BLANK_ROOT_HASH,
    EMPTY_SHA256,
    GENESIS_GAS_LIMIT,
    POST_MERGE_DIFFICULTY,
    POST_MERGE_MIX_HASH,
    POST_MERGE_NONCE,
)
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from eth.vm.forks.cancun.headers import (
    calc_excess_blob_gas_cancun,
    create_cancun_header_from_parent,
)
from eth.vm.forks.london.blocks import LondonBlockHeader
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth.vm.forks.prague.headers import (
    calc_excess_blob_gas_prague,
    create_prague_header_from_parent,
)
from rlp.sedes.serializable import make_immutable

from evmkiln.forks.osaka.headers import calc_excess_blob_gas_osaka, create_osaka_header_from_parent


@dataclass(frozen=True, slots=True)
class _Maker:
    """What one fork's maker does past Paris's and London's steps."""

    header_class: type[Any]
    excess_blob_gas: tuple[Callable[[Any], int], ...]
    """Each fork's excess blob gas from the parent, in the order the chain computes
    them (each may raise on an odd parent); the last one is the header's."""
    requests: bool
    """Prague's ``requests_hash`` is a field (and a parameter)."""


_CANCUN_EXCESS = (calc_excess_blob_gas_cancun,)
_PRAGUE_EXCESS = (*_CANCUN_EXCESS, calc_excess_blob_gas_prague)
_MAKERS: dict[Callable[..., Any], _Maker] = {
    create_cancun_header_from_parent.func: _Maker(CancunBlockHeader, _CANCUN_EXCESS, False),
    create_prague_header_from_parent.func: _Maker(PragueBlockHeader, _PRAGUE_EXCESS, True),
    create_osaka_header_from_parent: _Maker(
        PragueBlockHeader, (*_PRAGUE_EXCESS, calc_excess_blob_gas_osaka), True
    ),
}

_FILLED = frozenset(inspect.signature(fill_header_params_from_parent).parameters) - {"parent"}
"""London's parameters, which ``fill_header_params_from_parent`` takes."""
_CANCUN_PARAMETERS = (_FILLED - {"difficulty", "nonce"}) | {
    "withdrawals_root",
    "excess_blob_gas",
    "blob_gas_used",
    "parent_beacon_block_root",
}
_PRAGUE_PARAMETERS = _CANCUN_PARAMETERS | {"requests_hash"}

_LONDON_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(LondonBlockHeader.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
"""What London's header holds for a field its maker was not given; every later maker
passes London's fields on by name."""


def maker_of(create_header_from_parent: Any) -> _Maker | None:
    """The maker a VM's ``create_header_from_parent`` is, if one :func:`header_from_parent`
    knows (py-evm's makers are curried: the curry of the function itself, no argument
    bound)."""
    function = getattr(create_header_from_parent, "func", create_header_from_parent)
    if getattr(create_header_from_parent, "args", ()) or getattr(
        create_header_from_parent, "keywords", None
    ):
        return None
    try:
        return _MAKERS.get(function)
    except TypeError:  # not hashable: not a maker known here
        return None


def header_from_parent(
    maker: _Maker, header_class: type[Any], parent: Any, parameters: Mapping[str, Any]
) -> Any | None:
    """The header ``maker`` makes from ``parent`` and ``parameters``, as an instance of
    ``header_class`` (a subclass of the maker's header class with its fields); None
    where py-evm's chain must make it (see the module docstring)."""
    known = _PRAGUE_PARAMETERS if maker.requests else _CANCUN_PARAMETERS
    if (
        parent is None
        or getattr(getattr(type(parent), "_meta", None), "field_names", None)
        != maker.header_class._meta.field_names  # a header of the same fork, not a look-alike
        or not parameters.keys() <= known
        or None in parameters.values()  # a timestamp of None is refused by the constructors
    ):
        return None
    params = dict(parameters)
    fields: dict[str, Any] = {}
    # Prague's, Cancun's and Shanghai's own fields, taken out before the earlier makers.
    if maker.requests:
        fields["requests_hash"] = params.pop("requests_hash", EMPTY_SHA256)
    params.pop("excess_blob_gas", None)  # always the parent's, below
    blob_gas_used = params.pop("blob_gas_used", 0)
    parent_beacon_block_root = params.pop("parent_beacon_block_root", BLANK_ROOT_HASH)
    withdrawals_root = params.pop("withdrawals_root", BLANK_ROOT_HASH)
    # Paris: the merge's constants.
    params["mix_hash"] = params.get("mix_hash", POST_MERGE_MIX_HASH)
    params["difficulty"] = POST_MERGE_DIFFICULTY
    params["nonce"] = POST_MERGE_NONCE
    # London.
    if "gas_limit" not in params:  # the parent is a London header: its gas limit moves
        params["gas_limit"] = compute_gas_limit(parent, genesis_gas_limit=GENESIS_GAS_LIMIT)
    if "timestamp" not in params:
        params["timestamp"] = new_timestamp_from_parent(parent)
    london = {**_LONDON_DEFAULTS, **fill_header_params_from_parent(parent, **params)}
    london["base_fee_per_gas"] = calculate_expected_base_fee_per_gas(parent)
    fields.update(
        london,
        withdrawals_root=withdrawals_root,
        blob_gas_used=blob_gas_used,
        excess_blob_gas=[excess(parent) for excess in maker.excess_blob_gas][-1],
        parent_beacon_block_root=parent_beacon_block_root,
    )
    meta = maker.header_class._meta
    made = object.__new__(header_class)
    made.__dict__.update(
        (attr, make_immutable(fields[name]))
        for name, attr in zip(meta.field_names, meta.field_attrs, strict=True)
    )
    return made
