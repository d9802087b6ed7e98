"""Prague as evmkiln runs it: py-evm's Prague where py-evm gets Prague wrong.

Each class subclasses py-evm's and overrides only what py-evm 0.12 gets
wrong, the way py-evm layers its forks:

* :class:`KilnPragueComputation` -- EIP-2537's BLS12-381 precompiles on a
  native library (:mod:`evmkiln.forks.bls12_381`): py-evm computes them in
  pure Python, seconds per pairing and minutes per large multiplication;
  MODEXP with ``0**0 mod m == 1`` for an empty base (:mod:`evmkiln.forks.modexp`);
* :class:`KilnPragueState` -- the transaction rules py-evm leaves out
  (:mod:`evmkiln.forks.validation`: EIP-3860, EIP-1559's fee caps, EIP-3607,
  the value in the up-front balance) and EIP-7610's collision with storage.

py-evm's Prague transaction executor, transactions and blocks are used as
they are.  Osaka (:mod:`evmkiln.forks.osaka`) builds on these classes.
py-evm's Cancun, which the ethereum/tests suite runs, stays stock.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import force_bytes_to_address
from eth.vm.forks.berlin.computation import _compute_modexp_gas_fee_eip_2565
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.state import PragueState

from evmkiln.forks.bls12_381 import bls12_381_precompiles
from evmkiln.forks.modexp import modexp_output
from evmkiln.forks.precompiles import with_native_precompiles
from evmkiln.forks.storage import account_has_storage
from evmkiln.forks.validation import validate_rules_pyevm_leaves_out


def modexp(computation: Any) -> Any:
    """MODEXP at py-evm's (EIP-2565's) price, with the right result for an empty base."""
    data = bytes(computation.msg.data_as_bytes)
    computation.consume_gas(_compute_modexp_gas_fee_eip_2565(data), reason="MODEXP Precompile")
    computation.output = modexp_output(data)
    return computation


KILN_PRAGUE_PRECOMPILES: dict[bytes, Any] = {
    **with_native_precompiles(PRAGUE_PRECOMPILES),
    **bls12_381_precompiles(),
    force_bytes_to_address(b"\x05"): modexp,
}


class KilnPragueComputation(PragueComputation):
    """Prague's computation with native BLS12-381 precompiles and a corrected MODEXP."""

    _precompiles = KILN_PRAGUE_PRECOMPILES


class KilnPragueState(PragueState):
    """Prague's state with the transaction and collision rules py-evm leaves out."""

    computation_class = KilnPragueComputation

    def validate_transaction(self, transaction: Any) -> None:
        """The rules py-evm leaves out (:mod:`evmkiln.forks.validation`), then py-evm's."""
        validate_rules_pyevm_leaves_out(self, transaction)
        super().validate_transaction(transaction)

    def has_storage(self, address: Any) -> bool:
        """Whether ``address`` has a non-zero storage slot."""
        return account_has_storage(self._account_db, address)

    def has_code_or_nonce(self, address: Any) -> bool:
        """Whether creating a contract at ``address`` collides (EIP-7610 included).

        py-evm asks exactly this question, under this name, where it decides a
        collision: the CREATE and CREATE2 opcodes and a creation transaction
        (its ``build_computation``), and evmkiln's builtins ask it through the
        host.  EIP-7610 (retroactive to every fork) adds a third condition to
        code and nonce: non-empty storage, which an address can hold without
        either (storage left by a pre-EIP-161 self-destruct, or put in place
        by genesis).
        """
        return bool(super().has_code_or_nonce(address)) or self.has_storage(address)


class KilnPragueVM(PragueVM):
    _state_class = KilnPragueState


__all__ = ["KilnPragueComputation", "KilnPragueState", "KilnPragueVM"]
