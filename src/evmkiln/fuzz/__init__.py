"""``evmkiln fuzz``: differential fuzzing of backends against py-evm's interpreter.

One job per module.  Programs: ``asm`` (items to bytecode), ``program`` (a
world of contracts and one transaction), ``execute`` (run it on a fresh
chain), and the generator -- ``values`` (biased operands), ``writer`` (stack-
aware code writing), ``statements`` and ``interactions`` (what a contract
does), ``precompile_inputs``, ``snippets`` (random stack shapes),
``families`` (what contracts look like) and ``generate`` (program ``index``
of a seed).  Running: ``engines`` (names to VM classes), ``coverage`` (the
observed reference), ``compare`` and ``results`` (verdicts), ``worker`` and
``pool`` (crash-isolated processes).  Findings: ``shrink``, ``reproducer``,
``replay``; ``campaign`` ties a run together and ``summary`` renders it.
"""
