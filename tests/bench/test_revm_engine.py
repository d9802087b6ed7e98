"""The revm engine's pre-state: storage must be cold and original, as in py-evm."""

from __future__ import annotations

import dataclasses

from fakes import case

from evmkiln.bench.engines import RevmRunner
from evmkiln.bench.observation import SUCCESS
from evmkiln.fixtures.world import Account

# SLOAD(1) + SLOAD(2) returned; then SSTORE(2, 0), whose cost and refund depend on
# slot 2's original value.
CODE = bytes.fromhex("600154600254016000526000600255" + "60206000f3")


def test_every_preset_slot_is_cold_and_original() -> None:
    contract = Account.model_validate(
        {
            "balance": "0x0",
            "nonce": "0x1",
            "code": "0x" + CODE.hex(),
            "storage": {"0x1": "0x5", "0x2": "0x6", "0x3": "0x7"},
        }
    )
    sender = Account.model_validate({"balance": "0xde0b6b3a7640000", "nonce": "0x0", "code": "0x"})
    base = case()
    runner = RevmRunner(
        dataclasses.replace(base, pre={b"\xcc" * 20: contract, b"\x11" * 20: sender})
    )
    observation, _ = runner.run()
    assert observation.outcome == SUCCESS
    assert observation.output == (11).to_bytes(32, "big")
    # 21000 intrinsic; two cold SLOADs (2 x 2100); SSTORE 6 -> 0 on a warm slot
    # (2900); 7 pushes, ADD and MSTORE (3 each), one word of memory (3); refund 4800.
    execution = 2 * 2100 + 2900 + 7 * 3 + 3 + 3 + 3
    assert observation.gas_used == 21000 + execution - 4800
