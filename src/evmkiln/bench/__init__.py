"""``evmkiln bench``: the bench fixtures on py-evm, revm and evmkiln backends, in one process.

The package is split by concern: ``parameters`` (fixture inputs a user may
scale), ``observation`` (what one run did, engine-neutral), ``engines`` (how
each engine sets up the pre-state and runs the transaction), ``compile_timing``
(timing a backend's compiles separately from execution), ``measure`` (warm-up,
repeats, budgets), ``agreement`` (cross-engine checks) and ``report`` (table
and JSON).
"""
