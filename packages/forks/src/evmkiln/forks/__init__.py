"""The Ethereum forks evmkiln runs, as py-evm classes, and the ones py-evm lacks."""

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.table import DEFAULT_FORK, SUPPORTED_FORKS, ForkSpec, fork_spec

__all__ = ["DEFAULT_FORK", "SUPPORTED_FORKS", "BlobSchedule", "ForkSpec", "fork_spec"]
