"""The workload benchmark: a stream of transactions over many contracts, each configuration cold.

:mod:`.plan` builds the stream from the fixtures (:mod:`.contracts`),
:mod:`.driver` runs every configuration (:mod:`.configurations`) in a fresh
process (:mod:`.runner`) and checks it against stock py-evm, :mod:`.summary`
takes medians and checks issue 11's targets.
"""

from evmkiln.workload.driver import WorkloadReport, run_workload
from evmkiln.workload.plan import build_spec
from evmkiln.workload.spec import WorkloadSpec

__all__ = ["WorkloadReport", "WorkloadSpec", "build_spec", "run_workload"]
