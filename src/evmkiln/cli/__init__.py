"""Command line interface of evmkiln.

Importing the package, before any command module (importing one may hash:
eth-hash picks its backend at the first hash), has py-evm hash with pysha3's
Keccak when it is installed: the same hashes, several times faster than
pycryptodome's (see :mod:`evmkiln.builtins.keccak_backend`).  A backend named
in ``ETH_HASH_BACKEND`` wins; set in the environment, the choice reaches
worker processes too.
"""

from evmkiln.builtins.keccak_backend import prefer_pysha3

prefer_pysha3()
