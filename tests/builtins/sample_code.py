"""Small contracts used as callees and initcode in the builtin tests."""

from __future__ import annotations

WORD = bytes(range(0xA0, 0xC0))  # 32 recognisable bytes

# Returns 40 bytes: WORD followed by 8 zero bytes.
RETURNER = bytes.fromhex("7f") + WORD + bytes.fromhex("5f5260285ff3")
# Reverts with a 32-byte reason ending in 0xbadbad00.
REVERTER = bytes.fromhex("63badbad005f5260205ffd")
# The designated invalid instruction: exceptional halt.
INVALID = bytes.fromhex("fe")
# Loops forever: runs out of gas.
BURNER = bytes.fromhex("5b5f56")
# SSTORE(0, 1); LOG1(0, 0, 0xaa); STOP.
STORE_AND_LOG = bytes.fromhex("60015f5560aa5f5fa100")
# SSTORE(0, 0): earns a refund when slot 0 held a value.
CLEARER = bytes.fromhex("5f5f5500")
# Returns CALLER, CALLVALUE and ADDRESS as three words (what DELEGATECALL/CALLCODE see).
WHOAMI = bytes.fromhex("335f5234602052604030905260605ff3")

# Initcode deploying the two bytes 0x5f00.
DEPLOY_SMALL = bytes.fromhex("6002600a5f3960025ff35f00")
# Initcode deploying a single 0xef byte (rejected by EIP-3541).
DEPLOY_EF = bytes.fromhex("60ef5f5360015ff3")
# Initcode that stores and logs, deploying nothing.
INIT_STORE_AND_LOG = STORE_AND_LOG
