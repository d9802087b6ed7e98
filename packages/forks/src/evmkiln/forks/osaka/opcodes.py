"""Osaka's opcode table for py-evm's interpreter: Prague's plus CLZ (EIP-7939).

py-evm looks opcodes up in its computation class's ``opcodes`` mapping, so a
new instruction is one more entry in a copy of the previous fork's table.
"""

from __future__ import annotations

import copy
from typing import Any

from eth.vm.forks.prague.opcodes import PRAGUE_OPCODES
from eth.vm.opcode import as_opcode

from evmkiln.forks.opcode_table import own_table
from evmkiln.forks.osaka.constants import CLZ_GAS, CLZ_OPCODE


def clz(computation: Any) -> None:
    """EIP-7939: the number of leading zero bits of the top word (256 for zero)."""
    value = computation.stack_pop1_int()
    computation.stack_push_int(256 - value.bit_length())


OSAKA_OPCODES: dict[int, Any] = {
    # py-evm's shared Prague table may carry another tool's wrappers (see opcode_table).
    **copy.deepcopy(own_table(PRAGUE_OPCODES)),
    CLZ_OPCODE: as_opcode(logic_fn=clz, mnemonic="CLZ", gas_cost=CLZ_GAS),
}
