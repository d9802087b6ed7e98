"""Blocks and headers copied without copying what they share.

pyrlp's ``Serializable.copy`` deep-copies every field it is not given, and
a deep copy of a serializable object is another ``copy`` of it: a block
copied with a new header copies its old header too, and each of its
transactions through their encoding and back; a header copied with a new
state root deep-copies its nineteen other fields one by one.  py-evm copies
the block and the header it is building at every step of mining it (the
receipt added, the state root set, the transactions and receipts set, the
block packed, finalised and sealed), and eth-tester mines a block for every
transaction: these copies cost more than running a small transaction's
message.

Serializable objects are immutable (their field setters refuse outside a
mutable context, and list fields are made tuples), so a copy can share the
fields it is not given: the same values, equal and encoded alike.
:class:`SharedFieldsCopy` is that ``copy``.  It is mixed into the block class
of every VM class ``make_vm_class`` makes
(:func:`~evmkiln.context.transaction_classes.block_class_for`), and into
the header class of the headers those VMs make for new blocks
(:class:`LeanNewHeaders`, at py-evm's seam ``create_header_from_parent``):
the header of a block being built is copied from that one, so every later
copy shares too.  Headers read from the chain database stay py-evm's.
Where the class's constructor is py-evm's own, a copy is made without
calling it again (pyrlp's constructor checks its arguments at length): the
same fields, and for a block the same bloom filter, set in place.  The
blocks of those VM classes are constructed the same way
(:class:`InPlaceConstruction`), and their new headers are made in one pass
(:mod:`evmkiln.context.new_headers`).
"""

from __future__ import annotations

import threading
from itertools import repeat
from typing import Any

import rlp
from eth.abc import BlockAPI
from eth.rlp.blocks import BaseBlock
from eth.vm.forks.frontier.blocks import FrontierBlock
from eth.vm.forks.shanghai.blocks import ShanghaiBlock
from eth_bloom.bloom import BloomFilter
from rlp.sedes.serializable import BaseSerializable, make_immutable

from evmkiln.context.new_headers import header_from_parent, maker_of
from evmkiln.context.serializable_encoding import encode_serializable


class SharedFieldsCopy:
    """Serializable mixin: ``copy`` sharing the unchanged fields instead of deep-copying them."""

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        """pyrlp's ``copy`` (the same fields, overridden by position or name), sharing
        what is not overridden.  Positional overrides, and names the class has no
        field for, take pyrlp's own path (and its error).

        A block of a class constructed by py-evm's own block constructors
        (:func:`_in_place_fields`) is copied without constructing it again:
        those only turn a ``None`` into an empty list, keep the header's bloom
        as a ``BloomFilter``, set each field, made immutable, and start an
        empty list of the block's requests (EIP-7685); a copy that passes no
        ``None`` does the same in place.
        """
        if args:
            return super().copy(*args, **kwargs)  # type: ignore[misc]
        cls = type(self)
        in_place = _in_place_fields(cls)
        if in_place is not None:
            attrs, attr_of = in_place
            if kwargs.keys() <= attr_of.keys() and None not in kwargs.values():
                fields = _copied_fields(self, attrs, attr_of, kwargs)
                made: Any = object.__new__(cls)
                _set_in_place(made, fields[attr_of["header"]], fields)
                return made
        fields_: dict[str, Any] = self.as_dict()  # type: ignore[attr-defined]
        if not kwargs.keys() <= fields_.keys():
            return super().copy(**kwargs)  # type: ignore[misc]
        fields_.update(kwargs)
        return cls(**fields_)


def _copied_fields(
    obj: Any, attrs: tuple[str, ...], attr_of: dict[str, str], changes: dict[str, Any]
) -> dict[str, Any]:
    """The field attributes of a copy of ``obj`` with ``changes``, each as pyrlp's
    constructor would set it: made immutable.

    The kept fields are read in C (no bytecode per field); of them only a list
    set in pyrlp's mutable context needs making immutable (checked in C too).
    """
    fields = dict(zip(attrs, map(obj.__dict__.__getitem__, attrs), strict=True))
    if any(map(isinstance, fields.values(), repeat(list))):
        for attr, value in fields.items():
            fields[attr] = make_immutable(value)
    for name, value in changes.items():
        fields[attr_of[name]] = make_immutable(value)
    return fields


def _field_tables(meta: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    """A serializable class's field attributes, and each field's name to its attribute."""
    return tuple(meta.field_attrs), dict(zip(meta.field_names, meta.field_attrs, strict=True))


class InPlaceConstruction:
    """Block mixin: py-evm's Shanghai block constructor (every later fork's), its
    effects set in place.

    py-evm's block constructors turn a ``None`` into an empty list, keep the
    header's bloom as a ``BloomFilter``, and pass every field by name to
    pyrlp's constructor, which checks the names it was given at length (they
    cannot be wrong here) and sets each field made immutable; ``BaseBlock``
    then starts an empty list of the block's requests (EIP-7685).  For a class
    whose constructors are those (:func:`_in_place_fields`) the same attributes
    are set here, in the same order; any other class (a tool's subclass with a
    constructor of its own) is constructed by its chain of constructors.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The arguments are bound here, and only the shapes py-evm's constructor takes
        # are set in place: any other call goes to that constructor, whose error
        # names it as a bad call of py-evm's class would.
        in_place = _in_place_fields(type(self))
        if in_place is not None and "withdrawals" in in_place[1]:
            if not args:
                if "header" in kwargs and kwargs.keys() <= _BLOCK_ARGUMENTS:
                    _construct(self, in_place[1], **kwargs)
                    return
            elif not kwargs and len(args) <= len(_BLOCK_ARGUMENTS):
                _construct(self, in_place[1], *args)
                return
        super().__init__(*args, **kwargs)


_BLOCK_ARGUMENTS = frozenset(("header", "transactions", "uncles", "withdrawals"))


def _construct(
    block: Any,
    attr_of: dict[str, str],
    header: Any,
    transactions: Any = None,
    uncles: Any = None,
    withdrawals: Any = None,
) -> None:
    """What py-evm's Shanghai block constructor sets (see :class:`InPlaceConstruction`)."""
    fields = {
        attr_of["header"]: make_immutable(header),
        attr_of["transactions"]: make_immutable([] if transactions is None else transactions),
        attr_of["uncles"]: make_immutable([] if uncles is None else uncles),
        attr_of["withdrawals"]: make_immutable([] if withdrawals is None else withdrawals),
    }
    _set_in_place(block, header, fields)


def _set_in_place(block: Any, header: Any, fields: dict[str, Any]) -> None:
    """What py-evm's block constructors leave on a block, in their order: the header's
    bloom as a filter, each field (``fields``: made immutable already), and an empty
    list of requests."""
    block.bloom_filter = BloomFilter(header.bloom)
    block.__dict__.update(fields)
    block.block_requests = []


_PLAIN_BLOCK_INITS = (
    (FrontierBlock, BaseBlock, BaseSerializable, BlockAPI, object),
    (ShanghaiBlock, BaseBlock, BaseSerializable, BlockAPI, object),
    (InPlaceConstruction, ShanghaiBlock, BaseBlock, BaseSerializable, BlockAPI, object),
)
"""The classes whose ``__init__`` py-evm's blocks run, in order: empty lists for
``None``, the header's bloom filter kept, then ``BaseBlock``'s: pyrlp's, which sets
each field made immutable, and an empty list of requests.  The last is evmkiln's
blocks', which does the same (:class:`InPlaceConstruction`)."""

_IN_PLACE: dict[type, tuple[tuple[str, ...], dict[str, str]] | None] = {}


def _in_place_fields(cls: type) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """(attributes of the fields, field name to attribute) of a block class whose
    constructor is one of py-evm's own (:data:`_PLAIN_BLOCK_INITS`), else None."""
    try:
        return _IN_PLACE[cls]
    except KeyError:
        pass
    meta: Any = getattr(cls, "_meta", None)
    constructors = tuple(klass for klass in cls.__mro__ if "__init__" in klass.__dict__)
    plain = (
        constructors in _PLAIN_BLOCK_INITS
        and getattr(cls, "__new__", None) is object.__new__
        and meta is not None
        and "header" in meta.field_names
    )
    made = _field_tables(meta) if plain else None
    _IN_PLACE[cls] = made
    return made


class _SharingHeader(SharedFieldsCopy):
    """A py-evm header class with :class:`SharedFieldsCopy`; pickled as py-evm's own.

    A copy is made without calling the constructor again: py-evm's header
    constructors only fill in a timestamp left out (``None``), and pyrlp's
    only sets each field, made immutable; a copy that passes no ``None``
    does the same in place.
    """

    _kiln_base: type[Any]
    _kiln_field_attrs: tuple[str, ...]
    _kiln_attr_of: dict[str, str]
    """Each field's name to the attribute pyrlp keeps it in."""

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        attr_of = self._kiln_attr_of
        if args or not kwargs.keys() <= attr_of.keys() or None in kwargs.values():
            return super().copy(*args, **kwargs)
        fields = _copied_fields(self, self._kiln_field_attrs, attr_of, kwargs)
        made = object.__new__(type(self))
        made.__dict__.update(fields)
        return made

    @property
    def hash(self) -> Any:
        """py-evm's hash of the header, over the encoding :func:`encode_serializable` makes
        (the bytes ``rlp.encode`` makes, which it then finds cached)."""
        if not self._cached_rlp:  # type: ignore[attr-defined]
            encode_serializable(self)
        return super().hash  # type: ignore[misc]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_decoded_header, (self._kiln_base, rlp.encode(self)))


def _decoded_header(header_class: type[Any], encoded: bytes) -> Any:
    return rlp.decode(encoded, sedes=header_class)


_SHARING: dict[type[Any], type[Any]] = {}
_SHARING_LOCK = threading.Lock()


def sharing_header_class(header_class: type[Any]) -> type[Any]:
    """The subclass of py-evm's ``header_class`` whose copies share (one per class)."""
    made = _SHARING.get(header_class)
    if made is None:
        with _SHARING_LOCK:
            made = _SHARING.get(header_class)
            if made is None:
                attrs, attr_of = _field_tables(header_class._meta)
                made = _SHARING[header_class] = type(
                    header_class.__name__,
                    (_SharingHeader, header_class),
                    {
                        "__module__": __name__,
                        "_kiln_base": header_class,
                        "_kiln_field_attrs": attrs,
                        "_kiln_attr_of": attr_of,
                    },
                )
    return made


_HEADER_MODULES = ("eth.", "evmkiln.forks.")
"""Where the header classes whose constructors :class:`_SharingHeader` knows are defined:
py-evm's, and the forks evmkiln carries on them.  A tool's own header class is left as is."""


def sharing_header(header: Any) -> Any:
    """``header`` as an instance of :func:`sharing_header_class`: the same fields, and
    the hashes it already knows (nothing else is kept on a header)."""
    cls = type(header)
    if (
        isinstance(header, _SharingHeader)
        or not hasattr(cls, "_meta")
        or not cls.__module__.startswith(_HEADER_MODULES)
    ):
        return header
    made = object.__new__(sharing_header_class(cls))
    made.__dict__.update(header.__dict__)
    return made


class LeanNewHeaders:
    """VM mixin: the header a new block starts from copies with :class:`SharedFieldsCopy`."""

    @classmethod
    def create_header_from_parent(cls, parent_header: Any, **header_params: Any) -> Any:
        """The fork's header, made in one pass where :mod:`evmkiln.context.new_headers`
        knows the fork's maker, else by it."""
        create: Any = super().create_header_from_parent  # type: ignore[misc]
        maker = maker_of(create)
        if maker is not None:
            made = header_from_parent(
                maker, sharing_header_class(maker.header_class), parent_header, header_params
            )
            if made is not None:
                return made
        return sharing_header(create(parent_header, **header_params))
