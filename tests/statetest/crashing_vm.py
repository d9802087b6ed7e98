"""VM classes that misbehave on purpose, loaded by the runner as ``crashing_vm:<Class>``."""

from __future__ import annotations

import os
from typing import Any

from eth.vm.forks.cancun import CancunVM


class ExitingVM(CancunVM):  # type: ignore[misc]
    """Kills its process in the middle of a transaction, as a crashing native backend would."""

    def apply_transaction(self, header: Any, transaction: Any) -> Any:
        os._exit(3)


class RaisingVM(CancunVM):  # type: ignore[misc]
    """Raises an unexpected exception from the VM."""

    def apply_transaction(self, header: Any, transaction: Any) -> Any:
        raise RuntimeError("backend bug")
