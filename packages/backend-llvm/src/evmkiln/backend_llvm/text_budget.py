"""How much LLVM IR the translation of one code may produce: the LLVM backend's compile budget.

The codegen's budget (:mod:`evmkiln.codegen.budget`) bounds the evmkiln IR,
but one IR instruction can become one line of LLVM IR or sixty (an SSTORE
priced inline), and LLVM's parser, passes and code generator cost what the
LLVM IR costs, some of them more than linearly.  So the translation stops
as soon as it has written more lines than :data:`LLVM_LINES` allows for the
code's length, before LLVM sees any of it, and the code is interpreted.

Real contracts translate to 2 to 7 lines per byte of code (4.3 for the bench
contracts over 10 KB) and stQuadraticComplexityTest's 22 KB of JUMPDESTs to
10; 24 KB of ``SSTORE(0, 0)`` in a loop takes 17.  The cap is the limit at
EIP-170's 24,576 bytes.
"""

from __future__ import annotations

from evmkiln.codegen.budget import DEPLOYED_CODE_LIMIT, Limit

LLVM_LINES = Limit(
    "lines of LLVM IR", base=32_768, per_byte=16, cap=16 * DEPLOYED_CODE_LIMIT + 32_768
)
