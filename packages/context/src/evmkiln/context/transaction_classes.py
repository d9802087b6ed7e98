"""Signed transactions that recover their sender once.

py-evm checks a transaction's signature by recovering the public key and
then verifying the signature against that very key
(``eth._utils.transactions.validate_transaction_signature``), and later
recovers the key a second time for ``transaction.sender``: three
elliptic-curve operations of 50-100 µs each, more than a small call's whole
execution under a native backend.  The verification cannot fail: a key
recovered from ``(r, s)`` and a message satisfies ECDSA's equation for that
message by construction, and eth-keys verifies the low-``s`` form of any
signature.  So one recovery decides validity *and* gives the sender.  (Typed
transactions are not checked by ``validate``; their one recovery is the
sender's, as in py-evm.)

A signature recovered once in this process is not recovered again: the
sender of a signed transaction is a fixed function of its class and its
fields (the class decides which message was signed, the fields hold it and
the signature), and it is remembered (:data:`SENDER_CACHE_SIZE` most
recent).  The same signed transaction is met more than once in real use:
decoded from a raw transaction and again from a block, estimated and then
sent, or replayed by a benchmark.  The cache is keyed by a SHA-256 digest of
the fields' pickle, so that a transaction met again costs neither py-evm's
message-for-signing encoding (built from a validated unsigned transaction
object, about 25 µs) nor its Keccak hash, and an entry holds no copy of the
transaction's data.

:func:`transaction_builder_for` makes a fork's transaction builder whose
signed classes do exactly that (:class:`RecoveredOnce`): the same checks in
the same order, the same exceptions and messages, the same sender, with one
recovery instead of three (none more if the sender was already read).
Transactions are built by the VM's builder (``vm.get_transaction_builder()``,
py-evm's seam through the block class): legacy ones made, signed or decoded
there, typed ones decoded, made signed, or made unsigned and then signed
there (py-evm's payload classes name their own fork's wrapper class when
signed: the builder's methods wrap the result in evmkiln's subclass of that
very class, :func:`recovering_typed`).  A transaction of py-evm's own
classes still works, as py-evm checks it.

The message a signature signs is made from the signed transaction's fields
(:func:`~evmkiln.context.serializable_encoding.message_for_signing`), and a
signature is recovered by libsecp256k1 directly (:func:`recover_public_key`,
eth-keys' own backend), eth-keys deciding and wording any refusal.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import threading
import weakref
from collections import OrderedDict
from typing import Any

from coincurve import PublicKey as CoincurvePublicKey
from eth.abc import SignedTransactionAPI
from eth.constants import SECPK1_N
from eth.vm.forks.berlin.transactions import TypedTransaction
from eth.vm.forks.shanghai.blocks import ShanghaiBlock
from eth_hash.auto import keccak
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from evmkiln.context.block_copies import InPlaceConstruction, SharedFieldsCopy
from evmkiln.context.block_transactions import RememberedTransactions
from evmkiln.context.serializable_encoding import message_for_signing
from evmkiln.context.transaction_validation import (
    checks_dynamic_fee_plainly,
    checks_plainly,
    field_reader,
    fields_of,
    plainly_valid,
    plainly_valid_dynamic_fee,
    same_fields,
)

_SENDER = "_kiln_sender"
"""Instance attribute holding the sender recovered while checking the signature."""
_INTRINSIC_GAS = "_kiln_intrinsic_gas"
"""Instance attribute holding the transaction's intrinsic gas once computed."""
_PYEVM_SENDER = "sender"
"""Where py-evm's ``cached_property`` keeps ``transaction.sender``."""

__all__ = [
    "SENDER_CACHE_SIZE",
    "RecoveredOnce",
    "RecoveredOnceTyped",
    "block_class_for",
    "clear_sender_cache",
    "recover_sender",
    "sender_of",
    "transaction_builder_for",
]

SENDER_CACHE_SIZE = 4096
"""Signed transactions whose sender the process remembers (least recently used
forgotten first).

An entry is a 32-byte digest and an address: about 250 bytes."""


def recover_public_key(signature: bytes, message_hash: bytes) -> bytes:
    """The 64-byte public key that made the compact ``signature`` (``r || s || parity``)
    of ``message_hash``, as eth-keys' coincurve backend recovers it; raises if none."""
    key = CoincurvePublicKey.from_signature_and_message(signature, message_hash, hasher=None)
    recovered: bytes = key.format(compressed=False)[1:]
    return recovered


def _in_signature_ranges(y_parity: Any, r: Any, s: Any) -> bool:
    """Whether eth-keys' ``Signature`` takes ``(y_parity, r, s)``: integers, the parity 0
    or 1, ``r`` and ``s`` below the curve order."""
    return (
        type(y_parity) is int
        and type(r) is int
        and type(s) is int
        and 0 <= y_parity <= 1
        and 0 <= r < SECPK1_N
        and 0 <= s < SECPK1_N
    )


def _signer(message_hash: bytes, y_parity: int, r: int, s: int) -> Address:
    """The address whose key signed ``message_hash`` with ``(y_parity, r, s)``.

    eth-keys' exceptions for a signature it refuses.  A signature eth-keys
    takes is recovered by libsecp256k1 (coincurve, eth-keys' own backend)
    directly, without eth-keys' objects and checks around it; one
    libsecp256k1 cannot recover goes through eth-keys, for its error.
    """
    if _in_signature_ranges(y_parity, r, s):
        compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))
        try:
            public_key = recover_public_key(compact, message_hash)
        except Exception:  # eth-keys decides, and words the refusal
            pass
        else:
            return Address(keccak(public_key)[12:])
    signature = Signature(vrs=(y_parity, r, s))  # py-evm's keys.Signature
    return Address(signature.recover_public_key_from_msg_hash(message_hash).to_canonical_address())


def _recovered(transaction: SignedTransactionAPI) -> Address:
    """py-evm's ``extract_transaction_sender``: one recovery (eth-keys' exceptions).

    py-evm makes the signature before the message: a signature eth-keys
    refuses is refused first, whatever the message's fields.
    """
    y_parity, r, s = transaction.y_parity, transaction.r, transaction.s
    if not _in_signature_ranges(y_parity, r, s):
        Signature(vrs=(y_parity, r, s))  # eth-keys' refusal, as py-evm's comes
    message_hash = keccak(message_for_signing(transaction))
    return _signer(message_hash, y_parity, r, s)


_CLASS_NUMBERS: weakref.WeakKeyDictionary[type, int] = weakref.WeakKeyDictionary()
"""Per transaction class, a number no other class gets (a class that is collected
does not pass its number on)."""
_NEXT_NUMBER = itertools.count()
_SENDERS: OrderedDict[bytes, Address] = OrderedDict()
_SENDERS_LOCK = threading.Lock()


def _class_number(cls: type) -> int:
    number = _CLASS_NUMBERS.get(cls)
    if number is None:
        number = _CLASS_NUMBERS[cls] = next(_NEXT_NUMBER)
    return number


def _signed_key(transaction: Any) -> bytes | None:
    """A digest determining ``transaction``'s sender, or None when its fields cannot
    be read or pickled (the sender is then recovered, not remembered).

    Pickling is injective on the fields (unpickling gives them back), so two
    transactions of one class share a digest only when they are the same
    signed transaction, or by a SHA-256 collision.
    """
    cls = type(transaction)
    read = field_reader(cls)
    if read is None:
        return None
    try:
        encoded = pickle.dumps(
            (_class_number(cls), read(transaction)), protocol=pickle.HIGHEST_PROTOCOL
        )
    except Exception:
        return None
    return hashlib.sha256(encoded).digest()


def sender_of(transaction: SignedTransactionAPI) -> Address:
    """py-evm's ``extract_transaction_sender``, remembered per signed transaction
    (eth-keys' exceptions; a refused signature is not remembered)."""
    key = _signed_key(transaction)
    if key is not None:
        with _SENDERS_LOCK:
            sender = _SENDERS.get(key)
            if sender is not None:
                _SENDERS.move_to_end(key)
                return sender
    sender = _recovered(transaction)
    if key is not None:
        with _SENDERS_LOCK:
            _SENDERS[key] = sender
            if len(_SENDERS) > SENDER_CACHE_SIZE:
                _SENDERS.popitem(last=False)
    return sender


def clear_sender_cache() -> None:
    """Forget every remembered sender."""
    with _SENDERS_LOCK:
        _SENDERS.clear()


def recover_sender(transaction: SignedTransactionAPI) -> Address:
    """The sender of ``transaction``'s signature, or py-evm's exceptions for a bad one.

    What ``validate_transaction_signature`` checks, with its messages: a
    signature eth-keys refuses, or one no key can be recovered from, is a
    ``ValidationError("Bad Signature: ...")``.
    """
    try:
        return sender_of(transaction)
    except BadSignature as exc:
        raise ValidationError(f"Bad Signature: {exc}") from exc


def _already_recovered(transaction: Any) -> bool:
    state = transaction.__dict__
    return _SENDER in state or _PYEVM_SENDER in state


class RecoveredOnce:
    """Mixin for a signed legacy (or inner typed) transaction class of py-evm."""

    @property
    def intrinsic_gas(self) -> int:
        """py-evm's, computed once: the envelope asks for it twice (validation, message)."""
        gas: int | None = self.__dict__.get(_INTRINSIC_GAS)
        if gas is None:
            gas = self.__dict__[_INTRINSIC_GAS] = self.get_intrinsic_gas()  # type: ignore[attr-defined]
        return gas

    def validate(self) -> None:
        """py-evm's ``validate``; fields all plainly valid skip their sixteen checks
        (:mod:`evmkiln.context.transaction_validation`) for the two that remain."""
        cls = type(self)
        if not checks_plainly(cls, RecoveredOnce) or not plainly_valid(self):
            super().validate()  # type: ignore[misc]
            return
        if self.gas < self.intrinsic_gas:  # type: ignore[attr-defined]
            raise ValidationError("Insufficient gas")
        self.check_signature_validity()

    def check_signature_validity(self) -> None:
        if _already_recovered(self):
            return  # a recovery succeeded: the signature is valid
        self.__dict__[_SENDER] = recover_sender(self)  # type: ignore[arg-type]

    def get_sender(self) -> Address:
        # py-evm's own recovery when none was made: its exceptions for a bad signature
        # (eth-keys', unconverted) are not the check's.
        sender: Address | None = self.__dict__.get(_SENDER)
        if sender is None:
            sender = self.__dict__[_SENDER] = sender_of(self)  # type: ignore[arg-type]
        return sender


class RecoveredOnceTyped:
    """Mixin for a fork's typed-transaction wrapper: the same, through its inner transaction."""

    _inner: SignedTransactionAPI

    def validate(self) -> None:
        """py-evm's (the payload's ``validate``); an EIP-1559 payload whose fields are
        all plainly valid skips its checks (:mod:`evmkiln.context.transaction_validation`)."""
        inner = self._inner
        if not checks_dynamic_fee_plainly(type(inner)) or not plainly_valid_dynamic_fee(inner):
            super().validate()  # type: ignore[misc]

    def check_signature_validity(self) -> None:
        if _already_recovered(self):
            return
        self.__dict__[_SENDER] = recover_sender(self._inner)

    def get_sender(self) -> Address:
        sender: Address | None = self.__dict__.get(_SENDER)
        if sender is None:
            sender = self.__dict__[_SENDER] = sender_of(self._inner)
        return sender


_TYPED_UNSIGNED_MAKERS = (
    "new_unsigned_access_list_transaction",
    "new_unsigned_dynamic_fee_transaction",
    "new_unsigned_blob_transaction",
    "new_unsigned_set_code_transaction",
)
_TYPED_SIGNED_MAKERS = (
    "new_access_list_transaction",
    "new_dynamic_fee_transaction",
    "new_blob_transaction",
    "new_set_code_transaction",
)
"""py-evm's builder methods making typed transactions of a class they name themselves
(a payload's ``as_signed_transaction`` wraps it in its own fork's wrapper class)."""

_PYEVM_MODULES = "eth."
"""Where the classes py-evm's own code names are defined: only those are converted."""

# Each transaction class made here is a function of its kind and py-evm's classes it
# extends, made once: so that a pickled transaction (which names the kind and those
# classes, :func:`_rebuilt`) comes back as the same class in any process.
_CLASSES: dict[tuple[str, tuple[type[Any], ...]], type[Any]] = {}
_CLASSES_LOCK = threading.RLock()  # a class may need another made first


def _class_of(kind: str, bases: tuple[type[Any], ...]) -> type[Any]:
    key = (kind, bases)
    made = _CLASSES.get(key)
    if made is None:
        with _CLASSES_LOCK:
            made = _CLASSES.get(key)
            if made is None:
                made = _CLASSES[key] = _MAKERS[kind](*bases)
                made._kiln_made_as = key
    return made


def recovering_legacy_class(signed: type[Any]) -> type[Any]:
    """py-evm's legacy ``signed`` class with :class:`RecoveredOnce`."""
    return _class_of("legacy", (signed,))


def recovering_typed_class(typed: type[Any]) -> type[Any]:
    """py-evm's typed wrapper class ``typed`` with :class:`RecoveredOnceTyped`."""
    return _class_of("typed", (typed,))


_VALIDATED = "_kiln_validated"
"""Kept on an unsigned transaction whose ``validate`` passed: the field values it passed with."""


def _validated_once(unsigned: type[Any]) -> Any:
    """``unsigned.validate``, remembered on the transaction when it passes.

    An unsigned transaction is validated by every run of it: a gas
    estimate runs one about sixteen times (py-evm's binary search, each run a
    spoof of the same transaction).  py-evm's checks read only the fields,
    so a pass stays a pass while the fields are the very objects it passed
    with (:func:`~evmkiln.context.transaction_validation.same_fields`; pyrlp
    keeps them immutable outside its mutable context); a refusal is not
    kept, and raises each time.
    """

    def validate(self: Any) -> None:
        state = self.__dict__
        if same_fields(self, state.get(_VALIDATED)):
            return
        unsigned.validate(self)
        state[_VALIDATED] = fields_of(self)

    return validate


def _legacy_unsigned(unsigned: type[Any], signed: type[Any]) -> type[Any]:
    """``unsigned`` whose ``as_signed_transaction`` returns a
    :func:`recovering_legacy_class` of ``signed``."""
    recovering = recovering_legacy_class(signed)

    def as_signed_transaction(self: Any, private_key: Any, chain_id: int | None = None) -> Any:
        made = unsigned.as_signed_transaction(self, private_key, chain_id=chain_id)
        return recovering(*(getattr(made, name) for name in made._meta.field_names))

    return _subclass(
        unsigned,
        {"as_signed_transaction": as_signed_transaction, "validate": _validated_once(unsigned)},
    )


def _typed_unsigned(unsigned: type[Any]) -> type[Any]:
    """``unsigned`` (a typed payload's unsigned class) whose ``as_signed_transaction``
    gives :func:`recovering_typed`'s wrapper."""

    def as_signed_transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        return recovering_typed(unsigned.as_signed_transaction(self, *args, **kwargs))

    return _subclass(
        unsigned,
        {"as_signed_transaction": as_signed_transaction, "validate": _validated_once(unsigned)},
    )


_MAKERS: dict[str, Any] = {
    "legacy": lambda signed: _subclass(signed, {}, RecoveredOnce),
    "typed": lambda typed: _subclass(typed, {}, RecoveredOnceTyped),
    "legacy_unsigned": _legacy_unsigned,
    "typed_unsigned": _typed_unsigned,
}


def recovering_typed(transaction: Any) -> Any:
    """``transaction``, a typed wrapper of py-evm's own class that py-evm just made, as
    its :func:`recovering_typed_class`, around the same payload; any other as it is."""
    cls = type(transaction)
    if not isinstance(transaction, TypedTransaction) or not cls.__module__.startswith(
        _PYEVM_MODULES
    ):
        return transaction
    return recovering_typed_class(cls)(transaction.type_id, transaction._inner)


def _signing_unsigned(transaction: Any) -> Any:
    """An unsigned typed payload of py-evm's own class, just made, as the same object of
    its class that signs into :func:`recovering_typed`'s wrapper."""
    cls = type(transaction)
    if cls.__module__.startswith(_PYEVM_MODULES):
        transaction.__class__ = _class_of("typed_unsigned", (cls,))
    return transaction


def _rewrapping(make: Any, convert: Any) -> classmethod[Any, Any, Any]:
    def maker(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        return convert(make(cls, *args, **kwargs))

    return classmethod(maker)


def _reduce_ex(self: Any, protocol: int) -> Any:
    """Pickled (and copied) as its kind and py-evm's classes, rebuilt by :func:`_rebuilt`;
    a tool's subclass is pickled as Python pickles it."""
    reduced = object.__reduce_ex__(self, protocol)
    made_as = type(self).__dict__.get("_kiln_made_as")
    if made_as is None or not isinstance(reduced, tuple) or len(reduced) < 3:
        return reduced
    return (_rebuilt, (*made_as, reduced[2]))


def _rebuilt(kind: str, bases: tuple[type[Any], ...], state: Any) -> Any:
    """A transaction of :func:`_class_of` ``(kind, bases)`` with the pickled ``state``."""
    made = object.__new__(_class_of(kind, bases))
    if state:
        made.__dict__.update(state)
    return made


def _subclass(base: type[Any], attributes: dict[str, Any], mixin: type | None = None) -> type[Any]:
    """A subclass of ``base`` under its own name, defined in this module."""
    bases = (base,) if mixin is None else (mixin, base)
    return type(
        base.__name__, bases, {"__module__": __name__, "__reduce_ex__": _reduce_ex, **attributes}
    )


_BUILDERS: dict[type[Any], type[Any]] = {}


def transaction_builder_for(builder: type[Any]) -> type[Any]:
    """A subclass of py-evm's transaction ``builder`` whose signed transactions recover once.

    One class per builder (cached), so that every VM class of a fork shares it.
    """
    made = _BUILDERS.get(builder)
    if made is not None:
        return made
    attributes: dict[str, Any] = {
        "legacy_signed": recovering_legacy_class(builder.legacy_signed),
        "legacy_unsigned": _class_of(
            "legacy_unsigned", (builder.legacy_unsigned, builder.legacy_signed)
        ),
    }
    typed = getattr(builder, "typed_transaction", None)
    if typed is not None:
        attributes["typed_transaction"] = recovering_typed_class(typed)
    for names, convert in (
        (_TYPED_UNSIGNED_MAKERS, _signing_unsigned),
        (_TYPED_SIGNED_MAKERS, recovering_typed),
    ):
        for name in names:
            make = getattr(getattr(builder, name, None), "__func__", None)
            if make is not None:
                attributes[name] = _rewrapping(make, convert)
    made = _BUILDERS[builder] = type(
        builder.__name__, (builder,), {"__module__": __name__, **attributes}
    )
    return made


_BLOCKS: dict[type[Any], type[Any]] = {}


def block_class_for(block_class: type[Any]) -> type[Any]:
    """A subclass of py-evm's ``block_class`` whose transaction builder recovers once,
    whose copies share the fields they do not change
    (:class:`~evmkiln.context.block_copies.SharedFieldsCopy`), and which takes the
    transactions the VM just set instead of decoding them again
    (:class:`~evmkiln.context.block_transactions.RememberedTransactions`).

    The VM's ``get_transaction_builder()`` is its block class's builder.  The
    block's fields, and so its encoding and the classes it decodes stored
    transactions with, are py-evm's.
    """
    made = _BLOCKS.get(block_class)
    if made is None:
        builder = transaction_builder_for(block_class.transaction_builder)
        constructs: tuple[type[Any], ...] = ()
        if issubclass(block_class, ShanghaiBlock):
            constructs = (InPlaceConstruction,)
        made = _BLOCKS[block_class] = type(
            block_class.__name__,
            (RememberedTransactions, SharedFieldsCopy, *constructs, block_class),
            {
                "__module__": __name__,
                "transaction_builder": builder,
                "__reduce_ex__": _reduce_block_ex,
                "_kiln_block_of": block_class,
            },
        )
    return made


def _reduce_block_ex(self: Any, protocol: int) -> Any:
    """Pickled (and copied) as the block class of py-evm's it was made for, rebuilt by
    :func:`_rebuilt_block` in any process; a tool's subclass is pickled as Python
    pickles it."""
    reduced = object.__reduce_ex__(self, protocol)
    made_for = type(self).__dict__.get("_kiln_block_of")
    if made_for is None or not isinstance(reduced, tuple) or len(reduced) < 3:
        return reduced
    return (_rebuilt_block, (made_for, reduced[2]))


def _rebuilt_block(made_for: type[Any], state: Any) -> Any:
    """A block of :func:`block_class_for` ``(made_for)`` with the pickled ``state``."""
    made = object.__new__(block_class_for(made_for))
    if state:
        made.__dict__.update(state)
    return made
