"""The Ethereum forks evmkiln runs, as py-evm classes, and the ones py-evm lacks."""

from evmkiln.forks.blobs import BlobSchedule
from evmkiln.forks.table import SUPPORTED_FORKS, ForkSpec, fork_spec

__all__ = ["SUPPORTED_FORKS", "BlobSchedule", "ForkSpec", "fork_spec"]
