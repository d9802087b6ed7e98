"""The linear-memory layout shared by generated code and the Python runtime.

One instance serves one frame at a time.  Its linear memory holds, from
address 0:

* ``CTRL``: the gas counter and memory size (read and written by builtins
  through the host bridge), the output range of RETURN/REVERT, and the page
  count of a growth request (:data:`HOST_GROW`);
* ``SCRATCH``: 96 bytes the word routines use to shift and pick bytes;
* ``ARGS``: eight 32-byte slots through which words cross into builtins and
  back (slot 0 holds the result);
* ``DIV_U``/``DIV_V``/``DIV_Q``: the division routines' digits;
* ``STACK``: the EVM stack buffer, 1024 words of four little-endian limbs;
* ``SLOTS``: the frame's known storage slots, a direct-mapped table of
  :data:`SL_CAPACITY` entries (key, value and original words, the generation
  that entered it, flags); an entry is valid while its generation is
  ``CTRL_SL_GEN``, which every new frame and every child frame advances.
  The runtime enters a slot after an SLOAD or SSTORE crossing, with its
  original value (:data:`SL_ORIGINAL_KNOWN`), and a transient slot after a
  TLOAD or TSTORE crossing (:data:`SL_TRANSIENT`).  Generated SSTORE prices a
  write to a storage entry, adds its refund to ``CTRL_REFUND`` and marks
  the entry :data:`SL_DIRTY`, generated TSTORE marks a transient one; the
  runtime tells the host those values before a child frame runs and when the
  frame ends;
* ``KECCAK_*``: the hash's state, its last input block and round constants;
* ``MSG_*`` and ``CALLDATA``: the frame's value, caller, address, call data
  and return data lengths and the first :data:`CALLDATA_WINDOW` bytes of its
  call data, written by the runtime for every frame (the return data's
  length again after each call): CALLVALUE, CALLER, ADDRESS, CALLDATASIZE,
  RETURNDATASIZE, and CALLDATALOAD and CALLDATACOPY within the window never
  cross;
* ``JUMPS``: the dynamic-jump table, one u16 per code byte (block index, or
  ``NO_BLOCK``);
* the contract's code (:func:`code_copy`), which CODECOPY within it copies
  from;
* the log buffer (:func:`log_buffer`, the :data:`LOG_CAPACITY` bytes
  below ``memory_base``): logs
  generated code emitted, in :mod:`evmkiln.builtins.log_entries`'s format,
  ``CTRL_LOG_LEN`` bytes used; the runtime hands them to the host before a
  LOG that crosses, before a builtin that runs another frame, and when the
  frame ends;
* from ``memory_base`` (page aligned): the EVM memory itself, big-endian bytes
  as the EVM sees them, grown in whole pages as it expands.

Everything the bytecode can address is an offset into the EVM memory that
``mem.access``/``mem.region`` checked against the expanded size, or a stack
slot masked into the buffer, so nothing reaches the header or beyond.
"""

from __future__ import annotations

PAGE = 65536
CTRL_GAS = 0
CTRL_MSIZE = 8
CTRL_OUT_OFFSET = 16
CTRL_OUT_SIZE = 24
CTRL_SL_GEN = 32
CTRL_GROW = 40
"""The page count generated code asks the host for with :data:`HOST_GROW`."""
CTRL_STATIC = 48
"""1 in a static frame: generated SSTORE leaves the write to the builtin, which halts."""
CTRL_REFUND = 56
"""Refunds of the SSTOREs priced in wasm (signed); the runtime adds them to the frame's."""
SCRATCH = 64
"""Three 32-byte words: low padding, the operand, high padding."""
CTRL_LOG_LEN = 192
"""Bytes of the log buffer in use (clear of the scratch words, zeroed with the control area)."""
ARGS = 256
ARG_SLOTS = 8
DIV_U = 512
"""Division work area: the dividend as 32-bit digits (up to 16, plus one for
normalisation), left holding the remainder."""
DIV_V = 592
"""The divisor, eight 32-bit digits (normalised in place)."""
DIV_Q = 640
"""The quotient, up to sixteen 32-bit digits."""
STACK = 1024
STACK_LIMIT = 1024
STACK_BYTES = STACK_LIMIT * 32
SLOTS = STACK + STACK_BYTES
SL_CAPACITY = 4096
"""Entries of the storage table (448 KiB).  As many as the LLVM backend's table grows
to: a frame that touches a thousand slots (a ray tracer writing its image to storage)
keeps them apart, where 1024 entries made it cross again for most of its reads."""
SL_ENTRY = 112
"""Key, value and original words; generation and flags (u64 each)."""
SL_KEY, SL_VALUE, SL_ORIGINAL, SL_GENERATION, SL_FLAGS = 0, 32, 64, 96, 104
SL_ORIGINAL_KNOWN = 1
"""The entry's original (transaction-start) value is filled in: SSTORE may be priced in wasm."""
SL_DIRTY = 2
"""A write priced in wasm (SSTORE, TSTORE) changed the value and the host has not been
told yet."""
SL_TRANSIENT = 4
"""A transient slot (EIP-1153): TLOAD and TSTORE hit only these entries, SLOAD and
SSTORE only those with :data:`SL_ORIGINAL_KNOWN`."""
SL_HASH_MULTIPLIER = 0x9E3779B97F4A7C15
"""The index is ``((xor of the key's limbs) * this mod 2^64) >> 32``, masked."""
SL_TRANSIENT_SALT = 0x5DEECE66DB3C6EF3
"""Xored into a transient slot's folded key, so that slot ``k`` of storage and of
transient storage usually live in different entries."""
KECCAK_STATE = SLOTS + SL_CAPACITY * SL_ENTRY
"""Keccak-f's 25 lanes between permutations (see :mod:`.keccak`)."""
KECCAK_BUF = KECCAK_STATE + 200
"""The last, padded input block (136 bytes)."""
KECCAK_RC = KECCAK_BUF + 136
"""The 24 round constants (a data segment)."""
MSG_VALUE = KECCAK_RC + 24 * 8
"""The frame's CALLVALUE, CALLER and ADDRESS: three words of little-endian limbs
(:func:`evmkiln.builtins.message_words.message_words`), written for every frame."""
MSG_CALLER = MSG_VALUE + 32
MSG_ADDRESS = MSG_VALUE + 64
MSG_CALLDATA_LEN = MSG_VALUE + 96
"""The call data's length (u64)."""
MSG_RETURNDATA_LEN = MSG_VALUE + 104
"""The return data's length (u64), written again after every builtin that runs a frame."""
CALLDATA = MSG_VALUE + 128
"""The first :data:`CALLDATA_WINDOW` bytes of the call data, zero past its end:
CALLDATALOAD within them reads here instead of crossing."""
CALLDATA_WINDOW = 1024
JUMPS = CALLDATA + CALLDATA_WINDOW
NO_BLOCK = 0xFFFF
MAX_PAGES = 65536
"""wasm32's limit: with the header, EVM memory tops out just below 4 GiB."""


def slot_index(slot: int, transient: bool = False) -> int:
    """The ``SLOTS`` entry a storage (or transient) slot lives in (generated code computes
    the same)."""
    mask = (1 << 64) - 1
    folded = (slot ^ (slot >> 64) ^ (slot >> 128) ^ (slot >> 192)) & mask
    if transient:
        folded ^= SL_TRANSIENT_SALT
    return (((folded * SL_HASH_MULTIPLIER) & mask) >> 32) & (SL_CAPACITY - 1)


LOG_CAPACITY = 1 << 14
"""Bytes of buffered logs; a larger log, or one that does not fit, crosses into the builtin."""


def log_buffer(memory_base: int) -> int:
    """Where the log buffer starts: it ends where EVM memory starts."""
    return memory_base - LOG_CAPACITY


def code_copy(code_length: int) -> int:
    """Where the contract's own code lies (a data segment after the jump table), for
    CODECOPY within it."""
    return JUMPS + 2 * code_length


def memory_base(code_length: int) -> int:
    """Where EVM memory starts for a contract of ``code_length`` bytes (past the jump
    table, the code and the log buffer, page aligned)."""
    end = code_copy(code_length) + code_length + LOG_CAPACITY
    return (end + PAGE - 1) // PAGE * PAGE


HOST_GROW = 0xFFFF
"""Host id (never a builtin's) asking the runtime to grow linear memory to
``CTRL_GROW`` pages.  Growth goes through the host because the memory may
move when it grows (see :mod:`.runtime`) and the runtime holds its address."""

# Status codes returned by the generated ``run`` function.
STATUS_HALT_BASE = 100
"""``STATUS_HALT_BASE + HaltKind``: an exceptional halt decided in wasm."""
STATUS_HOST_HALT = 200
"""A builtin raised; the host bridge holds the exception."""
